// Small behaviours of the admin, kept out of the HTML so the Content-Security-Policy can
// refuse inline scripts: a select that submits its form, a print button, a page that reloads itself.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("[data-storecrm-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  var reload = document.querySelector("[data-reload-after]");
  if (reload) {
    setTimeout(function () { window.location.reload(); }, parseInt(reload.dataset.reloadAfter, 10));
  }
});
