// Draws every chart of a page: a <figure data-chart="ID"> gets the Vega-Lite spec that the
// server wrote into <script type="application/json" id="ID">. A spec whose usermeta has a
// "drill" address (ending in "period=") opens the drill-down of a clicked point's period.
// Parts of a page replaced by htmx (the dashboard's period picker, its cohorts) are drawn
// once they settle. Each drawn chart's Vega view is kept in window.kpiCharts by ID (its data
// can be read back).
window.kpiCharts = window.kpiCharts || {};

function drawCharts(root) {
  for (const figure of root.querySelectorAll("[data-chart]")) {
    if (figure.dataset.drawn) continue;
    figure.dataset.drawn = "drawing";
    const spec = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    const target = figure.querySelector(".chart");
    vegaEmbed(target, spec, { actions: false, renderer: "svg" })
      .then((result) => {
        window.kpiCharts[figure.dataset.chart] = result.view;
        figure.dataset.drawn = "drawn";
        const drill = spec.usermeta && spec.usermeta.drill;
        if (!drill) return;
        result.view.addEventListener("click", (event, item) => {
          if (item && item.datum && item.datum.start) {
            window.location.href = drill + encodeURIComponent(item.datum.start);
          }
        });
      })
      .catch((error) => {
        target.textContent = "The chart could not be drawn: " + error.message;
        figure.dataset.drawn = "failed";
      });
  }
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:afterSettle", () => drawCharts(document));
