// Small behaviours of the admin, kept out of the HTML so the Content-Security-Policy can
// refuse inline scripts: a select that submits its form, a page that reloads itself, and
// Flask-Admin's few inline onclick handlers, re-attached here as listeners (the CSP would
// block them: a delete would lose its confirmation, a filter link would navigate).
(function () {
  function argument(code) {
    var match = /\('((?:[^'\\]|\\.)*)'\)/.exec(code) || /,\s*'((?:[^'\\]|\\.)*)'\)/.exec(code);
    return match ? match[1].replace(/\\(.)/g, "$1") : "";
  }

  function reattach(element) {
    var code = element.getAttribute("onclick") || "";
    element.removeAttribute("onclick");
    if (/^\s*return false;?\s*$/.test(code)) {
      element.addEventListener("click", function (event) { event.preventDefault(); });
    } else if (/safeConfirm\(|confirm\(/.test(code)) {
      var question = argument(code);
      element.addEventListener("click", function (event) {
        if (!window.confirm(question)) { event.preventDefault(); event.stopImmediatePropagation(); }
      });
    } else if (/modelActions\.execute\(/.test(code)) {
      var action = argument(code);
      element.addEventListener("click", function (event) {
        if (window.modelActions && window.modelActions.execute(action) === false) { event.preventDefault(); }
      });
    } else if (/faForm\.addInlineField\(/.test(code)) {
      var fieldId = /,\s*'([^']*)'\)/.exec(code);
      element.addEventListener("click", function (event) {
        event.preventDefault();
        if (window.faForm && fieldId) { window.faForm.addInlineField(element, fieldId[1]); }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[onclick]").forEach(reattach);
    document.querySelectorAll("a[href^='javascript:']").forEach(function (link) {
      link.setAttribute("href", "#");
      link.addEventListener("click", function (event) { event.preventDefault(); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    var reload = document.querySelector("[data-reload-after]");
    if (reload) {
      setTimeout(function () { window.location.reload(); }, parseInt(reload.dataset.reloadAfter, 10));
    }
  });
})();
