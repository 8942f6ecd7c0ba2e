/* Draws every Plotly chart on the page from the JSON embedded next to it.
   A chart is <div class="chart" data-chart="ID"> with <script type="application/json" id="ID">.
   Points that carry a URL in customdata (a string starting with "/") link to the records behind them. */
(function () {
  function draw(el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source || !window.Plotly) { return; }
    var figure = JSON.parse(source.textContent);
    // The mode bar (zoom, download…) shows only while the pointer is over the chart.
    var config = { responsive: true, displaylogo: false, displayModeBar: "hover" };
    window.Plotly.newPlot(el, figure.data, figure.layout || {}, config).then(function () {
      el.classList.add("chart-ready");
    });
    el.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      var url = point && (Array.isArray(point.customdata) ? point.customdata[0] : point.customdata);
      if (typeof url === "string" && url.charAt(0) === "/") { window.location.href = url; }
    });
  }
  function drawAll() { document.querySelectorAll("[data-chart]").forEach(draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", drawAll); } else { drawAll(); }
})();
