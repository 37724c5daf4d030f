/* Draws every <canvas class="storecrm-chart" data-chart='{type, labels, datasets, ...}'> with Chart.js. */
(function () {
  var palette = ["#2f6fed", "#f0ad4e", "#28a745", "#dc3545", "#6f42c1", "#17a2b8", "#fd7e14", "#6c757d"];
  document.querySelectorAll("canvas.storecrm-chart").forEach(function (canvas) {
    var spec = JSON.parse(canvas.dataset.chart);
    var round = spec.type === "doughnut" || spec.type === "pie";
    var datasets = spec.datasets.map(function (ds, i) {
      var colour = palette[i % palette.length];
      return Object.assign({
        backgroundColor: round ? palette : (ds.type === "line" ? colour : colour + "cc"),
        borderColor: colour, borderWidth: ds.type === "line" ? 2 : 0, tension: 0.3, pointRadius: 2
      }, ds);
    });
    var scales = {};
    if (!round) {
      scales = { y: { beginAtZero: true } };
      if (datasets.some(function (d) { return d.yAxisID === "y1"; })) {
        scales.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
      }
    }
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: { responsive: true, maintainAspectRatio: true, indexAxis: spec.indexAxis || "x", scales: scales,
                 plugins: { legend: { display: datasets.length > 1 || round, position: "bottom" } } }
    });
  });
})();
