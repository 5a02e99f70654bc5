// cvm web: draws the page's Plotly charts and follows background jobs. No inline scripts (CSP).
(function () {
  "use strict";

  function drawCharts() {
    if (!window.Plotly) { return; }
    var config = { responsive: true, displaylogo: false };
    var locale = document.getElementById("chart-locale");
    if (locale) {  // month names, dates and separators of the page's language (from Babel on the server)
      var module = JSON.parse(locale.textContent);
      window.Plotly.register(module);
      config.locale = module.name;
    }
    document.querySelectorAll("script.chart-data").forEach(function (node) {
      var target = document.getElementById(node.dataset.target);
      if (!target) { return; }
      var fig = JSON.parse(node.textContent);
      window.Plotly.newPlot(target, fig.data, fig.layout, config);
      target.dataset.drawn = "1";
    });
  }

  function followJob() {
    var box = document.getElementById("job");
    if (!box) { return; }
    var status = box.dataset.status;
    if (status === "done" || status === "failed") { return; }
    var bar = box.querySelector("progress");
    var label = box.querySelector(".job-status");
    var steps = {};
    try { steps = JSON.parse(box.dataset.steps || "{}"); } catch (e) { steps = {}; }
    function poll() {
      fetch("/api/jobs/" + encodeURIComponent(box.dataset.jobId), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.value = job.progress; }
          // the step in the page's words (data-steps); a step without words keeps the status shown
          if (label && job.message && steps[job.message]) { label.textContent = steps[job.message]; }
          if (job.status === "done" || job.status === "failed") { window.location.reload(); }
          else { window.setTimeout(poll, 400); }
        })
        .catch(function () { window.setTimeout(poll, 1500); });
    }
    window.setTimeout(poll, 200);
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(); followJob(); });
})();
