// Moved out of campaigns/templates/campaigns/report.html: the Content-Security-Policy allows no inline scripts.
(function () {
  const canvas = document.getElementById("delivery-chart");
  if (!canvas || !window.Chart) return;
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const series = [
    ["sent", "Sent", color("--bs-primary"), false],
    ["delivered", "Delivered", color("--bs-success"), true],
    ["failed", "Failed or undelivered", color("--bs-danger"), false],
  ];
  let chart = null;
  let loadedAt = 0;

  function label(iso, bucket) {
    const d = new Date(iso);
    if (bucket >= 1440) return d.toLocaleDateString([], {day: "numeric", month: "short"});
    return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", hour12: false});
  }

  function bucketText(minutes) {
    if (minutes % 1440 === 0) return minutes === 1440 ? "per day" : "per " + minutes / 1440 + " days";
    if (minutes % 60 === 0) return minutes === 60 ? "per hour" : "per " + minutes / 60 + " hours";
    return minutes === 1 ? "per minute" : "per " + minutes + " minutes";
  }

  async function load() {
    loadedAt = Date.now();
    let data;
    try {
      const response = await fetch(canvas.dataset.url, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!response.ok) return;
      data = await response.json();
    } catch (error) {
      return;
    }
    const empty = data.labels.length === 0;
    document.getElementById("chart-box").classList.toggle("d-none", empty);
    document.getElementById("chart-empty").classList.toggle("d-none", !empty);
    if (empty) return;
    document.getElementById("chart-bucket").textContent = "Messages " + bucketText(data.bucket_minutes);
    const labels = data.labels.map((iso) => label(iso, data.bucket_minutes));
    if (chart) {
      chart.data.labels = labels;
      series.forEach(([key], i) => { chart.data.datasets[i].data = data[key]; });
      chart.update("none");
      return;
    }
    chart = new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: series.map(([key, name, rgb, fill]) => ({
          label: name,
          data: data[key],
          borderColor: rgb,
          backgroundColor: fill ? rgb + "26" : rgb,
          fill: fill ? "origin" : false,
          borderWidth: 2,
          cubicInterpolationMode: "monotone",
          pointRadius: labels.length > 40 ? 0 : 3,
          pointHoverRadius: 4,
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: {mode: "index", intersect: false},
        plugins: {
          legend: {
            position: "bottom",
            labels: {
              usePointStyle: true,
              // Solid swatches, also for the series drawn with a translucent fill.
              generateLabels: (c) => Chart.defaults.plugins.legend.labels.generateLabels(c)
                .map((item) => Object.assign(item, {fillStyle: item.strokeStyle})),
            },
          },
        },
        scales: {
          x: {grid: {display: false}, ticks: {maxTicksLimit: 10, maxRotation: 0}},
          y: {beginAtZero: true, ticks: {precision: 0}, grid: {color: color("--bs-border-color-translucent")}},
        },
      },
    });
  }

  load();
  // While the summary polls, redraw the chart now and then (and once more when it stops).
  document.body.addEventListener("htmx:afterSettle", function () {
    const summary = document.getElementById("report-summary");
    const stopped = summary && summary.dataset.live === "false";
    if (stopped || Date.now() - loadedAt > 10000) load();
  });
})();
