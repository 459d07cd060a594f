// Draws every chart of a page: a <figure data-chart="ID"> gets the Vega-Lite spec that the
// server wrote into <script type="application/json" id="ID">. A spec whose usermeta has a
// "drill" address (ending in "period=") opens the drill-down of a clicked point's period.
document.addEventListener("DOMContentLoaded", () => {
  for (const figure of document.querySelectorAll("[data-chart]")) {
    const spec = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    const target = figure.querySelector(".chart");
    vegaEmbed(target, spec, { actions: false, renderer: "svg" })
      .then((result) => {
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
      });
  }
});
