// Draws every chart of a page: a <figure data-chart="ID"> gets the Vega-Lite spec that the
// server wrote into <script type="application/json" id="ID">.
document.addEventListener("DOMContentLoaded", () => {
  for (const figure of document.querySelectorAll("[data-chart]")) {
    const spec = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    const target = figure.querySelector(".chart");
    vegaEmbed(target, spec, { actions: false, renderer: "svg" }).catch((error) => {
      target.textContent = "The chart could not be drawn: " + error.message;
    });
  }
});
