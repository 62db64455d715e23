// Draws every <canvas data-chart="ID"> of the reports page from the JSON in <script id="ID">.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") {
    return; // the tables beside each chart still show every number
  }
  var base = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: "bottom" } },
  };
  function merge(target, extra) {
    Object.keys(extra || {}).forEach(function (key) {
      var value = extra[key];
      if (value && typeof value === "object" && !Array.isArray(value)) {
        target[key] = merge(target[key] || {}, value);
      } else {
        target[key] = value;
      }
    });
    return target;
  }
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      return;
    }
    var config = JSON.parse(source.textContent);
    config.options = merge(merge({}, base), config.options);
    new window.Chart(canvas, config);
  });
})();
