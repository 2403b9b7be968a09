/**
 * Telemetry charts with plotly.js, the bundle the `plotly` Python package ships (served by the hub at
 * vendor/plotly.min.js, loaded on first use: it is large and only the alert page needs it).
 */

import { formatTime, t } from "./i18n.js";

/** @type {Promise<any>|null} */
let loading = null;

/** @returns {Promise<any>} the global Plotly object */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/plotly.min.js";
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => {
      loading = null;
      reject(new Error("plotly.js could not be loaded"));
    };
    document.head.append(script);
  });
  return loading;
}

/**
 * The panels: distance to the hub (RSSI when the edge reported no distance), heart rate, skin temperature
 * and battery, stacked on one time axis.
 * @param {Record<string, any>[]} points  GET /devices/{id}/telemetry's points
 * @returns {{key: string, title: string, unit: string}[]}
 */
function panels(points) {
  const hasDistance = points.some((p) => p.distance_m !== null && p.distance_m !== undefined);
  return [
    hasDistance ? { key: "distance_m", title: t("chart.distance"), unit: "m" } : { key: "rssi", title: t("chart.rssi"), unit: "dBm" },
    { key: "heart_rate", title: t("chart.heartRate"), unit: "bpm" },
    { key: "skin_temp_c", title: t("chart.skinTemp"), unit: "°C" },
    { key: "battery", title: t("chart.battery"), unit: "%" },
  ];
}

/**
 * Draw the person's telemetry around an alert in `target`.
 * @param {HTMLElement} target
 * @param {Record<string, any>[]} points
 * @param {Record<string, any>} alert  for the marker of the incident's first and last events
 */
export async function drawTelemetry(target, points, alert) {
  const Plotly = await loadPlotly();
  const times = points.map((p) => p.time);
  const chosen = panels(points);
  const traces = chosen.map((panel, i) => ({
    x: times,
    y: points.map((p) => p[panel.key] ?? null),
    name: panel.title,
    type: "scatter",
    mode: "lines+markers",
    marker: { size: 4 },
    connectgaps: false,
    xaxis: "x",
    yaxis: i === 0 ? "y" : `y${i + 1}`,
    hovertemplate: `%{y} ${panel.unit}<extra>${panel.title}</extra>`,
  }));
  // One row per panel, top to bottom, all on the bottom row's time axis (set by hand: plotly's `grid`
  // wants one x axis per row).
  const rows = chosen.length;
  const gap = 0.04;
  const layout = {
    height: 150 * rows + 90,
    margin: { l: 70, r: 20, t: 30, b: 50 },
    showlegend: false,
    xaxis: { type: "date", anchor: `y${rows}`, title: { text: t("chart.time", { first: formatTime(times[0]) }) } },
    shapes: [alert.first_event_at, alert.last_event_at].filter(Boolean).map((time) => ({
      type: "line", xref: "x", yref: "paper", x0: time, x1: time, y0: 0, y1: 1,
      line: { color: "#b42318", width: 1, dash: "dot" },
    })),
    annotations: [
      { x: alert.first_event_at, y: 1, xref: "x", yref: "paper", text: t("chart.incident"), showarrow: false, yanchor: "bottom", font: { color: "#b42318" } },
    ],
  };
  chosen.forEach((panel, i) => {
    const top = 1 - i / rows;
    const bottom = 1 - (i + 1) / rows + gap;
    layout[i === 0 ? "yaxis" : `yaxis${i + 1}`] = {
      domain: [bottom, top],
      anchor: "x",
      title: { text: `${panel.title} (${panel.unit})`, font: { size: 11 } },
      zeroline: false,
    };
  });
  await Plotly.react(target, traces, layout, { displaylogo: false, responsive: true });
}

/** Release plotly's resources in `target`. */
export function purge(target) {
  if (window.Plotly) window.Plotly.purge(target);
}
