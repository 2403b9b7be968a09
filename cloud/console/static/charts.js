/**
 * Telemetry charts with plotly.js, the bundle the `plotly` Python package ships (served by the hub at
 * vendor/plotly.min.js, loaded on first use: it is large and only the alert page needs it).
 */

import { formatTime, label, t } from "./i18n.js";

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
  const chosen = panels(points).map((panel) => ({
    title: panel.title,
    unit: panel.unit,
    traces: [{ y: points.map((p) => p[panel.key] ?? null), name: panel.title, hovertemplate: `%{y} ${panel.unit}<extra>${panel.title}</extra>` }],
  }));
  await drawPanels(target, points.map((p) => p.time), chosen, alert);
}

// A room camera's states, in the order of the camera panel's axis (bottom to top); CAMERA_CODES in
// cloud/telemetry/lines.py.
const CAMERA_STATES = ["ok", "covered", "dark", "frozen", "offline"];
const ALARM = "#b42318";
const NORMAL = "#1f77b4"; // plotly's first colour, the bracelet panels' too

/**
 * Draw a facility room's readings around an alert in `target`: faces seen against faces allowed, and the
 * camera's state, on the bracelet chart's time axis and look.
 * @param {HTMLElement} target
 * @param {Record<string, any>[]} points  GET /rooms/{site_id}/{room_id}/telemetry's points
 * @param {Record<string, any>} alert
 */
export async function drawRoomTelemetry(target, points, alert) {
  const faces = t("chart.facesSeen");
  const allowed = t("chart.facesAllowed");
  const camera = t("chart.camera");
  const states = points.map((p) => p.camera ?? null);
  const occupancy = {
    title: t("chart.occupancy"),
    unit: "",
    traces: [
      {
        y: points.map((p) => p.faces ?? null),
        name: faces,
        line: { shape: "hv" },
        marker: { size: 4, color: points.map((p) => ((p.faces ?? 0) > (p.allowed ?? Infinity) ? ALARM : NORMAL)) },
        hovertemplate: `%{y}<extra>${faces}</extra>`,
      },
      {
        y: points.map((p) => p.allowed ?? null),
        name: allowed,
        mode: "lines",
        line: { shape: "hv", dash: "dash", color: "#667085" },
        hovertemplate: `%{y}<extra>${allowed}</extra>`,
      },
    ],
    axis: { rangemode: "tozero", dtick: 1 },
  };
  const cameraPanel = {
    title: camera,
    unit: "",
    traces: [
      {
        // A state this console does not know is left out (a gap), not drawn as another one.
        y: states.map((s) => (CAMERA_STATES.includes(s) ? CAMERA_STATES.indexOf(s) : null)),
        customdata: states.map((s) => label("camera", s)),
        name: camera,
        line: { shape: "hv" },
        marker: { size: 4, color: states.map((s) => (s === null || s === "ok" ? NORMAL : ALARM)) },
        hovertemplate: `%{customdata}<extra>${camera}</extra>`,
      },
    ],
    axis: { range: [-0.5, CAMERA_STATES.length - 0.5], tickvals: CAMERA_STATES.map((_, i) => i), ticktext: CAMERA_STATES.map((s) => label("camera", s)) },
  };
  await drawPanels(target, points.map((p) => p.time), [occupancy, cameraPanel], alert, true);
}

/**
 * The console's chart: panels stacked on one time axis, the incident's first and last events marked.
 * @param {HTMLElement} target
 * @param {string[]} times  every trace's x
 * @param {{title: string, unit: string, traces: Record<string, any>[], axis?: Record<string, any>}[]} chosen
 * @param {Record<string, any>} alert
 * @param {boolean} [legend]  name the traces (for panels with more than one)
 */
async function drawPanels(target, times, chosen, alert, legend = false) {
  const Plotly = await loadPlotly();
  const traces = chosen.flatMap((panel, i) =>
    panel.traces.map((trace) => ({
      x: times,
      type: "scatter",
      mode: "lines+markers",
      marker: { size: 4 },
      connectgaps: false,
      xaxis: "x",
      yaxis: i === 0 ? "y" : `y${i + 1}`,
      ...trace,
    })),
  );
  // One row per panel, top to bottom, all on the bottom row's time axis (set by hand: plotly's `grid`
  // wants one x axis per row).
  const rows = chosen.length;
  const gap = 0.04;
  const layout = {
    height: 150 * rows + (legend ? 120 : 90),
    margin: { l: 70, r: 20, t: 30, b: legend ? 80 : 50 },
    showlegend: legend,
    // Under the time axis' title, clear of the incident's label on top.
    legend: { orientation: "h", xref: "container", yref: "container", x: 0.5, xanchor: "center", y: 0, yanchor: "bottom" },
    xaxis: { type: "date", anchor: `y${rows}`, title: { text: t("chart.time", { first: formatTime(times[0]) }) } },
    shapes: [alert.first_event_at, alert.last_event_at].filter(Boolean).map((time) => ({
      type: "line", xref: "x", yref: "paper", x0: time, x1: time, y0: 0, y1: 1,
      line: { color: ALARM, width: 1, dash: "dot" },
    })),
    annotations: [
      { x: alert.first_event_at, y: 1, xref: "x", yref: "paper", text: t("chart.incident"), showarrow: false, yanchor: "bottom", font: { color: ALARM } },
    ],
  };
  chosen.forEach((panel, i) => {
    const top = 1 - i / rows;
    const bottom = 1 - (i + 1) / rows + gap;
    layout[i === 0 ? "yaxis" : `yaxis${i + 1}`] = {
      domain: [bottom, top],
      anchor: "x",
      title: { text: panel.unit ? `${panel.title} (${panel.unit})` : panel.title, font: { size: 11 } },
      zeroline: false,
      automargin: true, // the camera panel's state names are longer than numbers
      ...panel.axis,
    };
  });
  await Plotly.react(target, traces, layout, { displaylogo: false, responsive: true });
}

/** Release plotly's resources in `target`. */
export function purge(target) {
  if (window.Plotly) window.Plotly.purge(target);
}
