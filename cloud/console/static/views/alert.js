/**
 * An alert's page: facts (with its escalation), timeline, the officer's actions and notes, who was notified,
 * and the person's telemetry around it.
 */

import { api } from "../api.js";
import { drawRoomTelemetry, drawTelemetry, purge } from "../charts.js";
import { el, table } from "../dom.js";
import { formatTime, label, t } from "../i18n.js";

// Telemetry shown before the first and after the last event of the incident.
const MARGIN_MS = 15 * 60 * 1000;

/**
 * Render one alert; its facts follow the live feed, the chart is drawn once.
 * @param {{view: HTMLElement, inbox: import("../inbox.js").inbox}} context
 * @param {number} id
 * @returns {Promise<() => void>} cleanup
 */
export async function renderAlert({ view, inbox }, id) {
  const chart = el("div", { id: "chart", "data-testid": "chart" });
  const chartNote = el("p.muted");
  let alert;
  try {
    alert = await api(`/alerts/${id}`);
  } catch (error) {
    view.replaceChildren(el("h1", {}, t("alert.title", { id })), el("p.error", {}, error.status === 404 ? t("alert.notFound") : t("error.generic", { detail: error.message })));
    return () => {};
  }
  const factsBox = el("div");
  const actionsBox = el("div");
  const noteBox = el("div");
  const notice = el("p", { role: "status", "data-testid": "action-message" });
  const timeline = el("ol.timeline", { "data-testid": "timeline" });
  const notified = el("div", { "data-testid": "notifications" });
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/alerts" }, `← ${t("nav.alerts")}`)),
    el("h1", { "data-testid": "alert-title" }, t("alert.heading", { id, type: label("alertType", alert.type) })),
    el("div.two", {}, el("section.card", {}, factsBox, actionsBox, noteBox, notice), el("section.card", {}, el("h2", {}, t("alert.timeline")), timeline)),
    el("section.card", {}, el("h2", {}, t("alert.notifications")), notified),
    el("section.card", {}, el("h2", {}, t("alert.telemetry")), chartNote, chart),
  );

  let shownStatus = null;
  /**
   * Show the alert's state; the action form is rebuilt only when the status changes, so that a live
   * update never wipes a note being typed.
   * @param {Record<string, any>} current
   */
  function show(current) {
    alert = current;
    factsBox.replaceChildren(facts(current));
    timeline.replaceChildren(...steps(current));
    notified.replaceChildren(notifications(current.notifications));
    if (current.status !== shownStatus) {
      shownStatus = current.status;
      actionsBox.replaceChildren(actions(current, act));
      // A resolved alert never changes: it takes no more notes.
      noteBox.replaceChildren(current.status === "resolved" ? "" : noteForm(act));
    }
  }
  let latest = 0;
  /** Fetch the alert again; an answer overtaken by a newer request is dropped. */
  async function reload() {
    const mine = ++latest;
    const current = await api(`/alerts/${id}`);
    if (mine === latest) show(current);
  }
  /**
   * Post an action, then show its outcome.
   * @param {string} path  "acknowledge", "resolve" or "notes"
   * @param {Record<string, any>} body
   * @param {string} done  catalog key of the success message
   * @returns {Promise<boolean>} true if the hub took it
   */
  async function act(path, body, done) {
    notice.className = "";
    notice.textContent = "";
    try {
      await api(`/alerts/${id}/${path}`, { method: "POST", body });
      await reload();
      notice.className = "notice";
      notice.textContent = t(done);
      return true;
    } catch (error) {
      notice.className = "error";
      notice.textContent = t("error.generic", { detail: error.message });
      return false;
    }
  }
  show(alert);

  // Follow the live feed before drawing the chart (which waits for the telemetry and plotly): a change that
  // arrived meanwhile would otherwise be missed until the next one.
  const unsubscribe = inbox.subscribe((changed) => {
    if (changed && changed.id === id) reload().catch(() => {});
  });
  const known = inbox.alerts.get(id);
  if (known && known.version > alert.version) reload().catch(() => {});
  await showTelemetry(chart, chartNote, alert);
  return () => {
    unsubscribe();
    purge(chart);
  };
}

/**
 * Chart the readings around the incident: a bracelet's body readings, or a facility room's occupancy and
 * camera state; or say why there is no chart.
 * @param {HTMLElement} chart
 * @param {HTMLElement} chartNote
 * @param {Record<string, any>} alert  GET /alerts/{id}
 */
async function showTelemetry(chart, chartNote, alert) {
  let path = `/devices/${alert.device_id}/telemetry`;
  let draw = drawTelemetry;
  if (!alert.device_id) {
    if (!alert.room_id) {
      chartNote.textContent = t("chart.noData");
      return;
    }
    path = `/rooms/${encodeURIComponent(alert.site_id)}/${encodeURIComponent(alert.room_id)}/telemetry`;
    draw = drawRoomTelemetry;
  }
  chart.dataset.subject = alert.device_id ? "bracelet" : "room";
  const start = new Date(Date.parse(alert.first_event_at) - MARGIN_MS);
  // Not capped at the browser's now: the hub answers with what it has (and a simulation's clock may run ahead).
  const end = new Date(Date.parse(alert.last_event_at) + MARGIN_MS);
  try {
    const query = new URLSearchParams({ start: start.toISOString(), end: end.toISOString() });
    const data = await api(`${path}?${query}`);
    if (data.points.length) {
      chartNote.textContent = t("chart.points", { n: data.points.length });
      await draw(chart, data.points, alert);
      chart.dataset.points = String(data.points.length);
    } else {
      chartNote.textContent = t("chart.noData");
    }
  } catch (error) {
    chartNote.textContent = t("error.generic", { detail: error.message });
  }
}

/**
 * The facts of an alert.
 * @param {Record<string, any>} alert  GET /alerts/{id}
 * @returns {HTMLElement}
 */
function facts(alert) {
  const fact = (key, value) => [el("dt", {}, t(key)), el("dd", { "data-testid": `fact-${key}` }, value)];
  return el(
    "dl.facts",
    {},
    ...fact("col.status", el("span", { class: `status status-${alert.status}`, "data-testid": "alert-status", dataset: { status: alert.status } }, label("status", alert.status))),
    ...fact("col.severity", el("span", { class: `sev sev-${alert.severity}` }, label("severity", alert.severity))),
    ...fact("alert.condition", alert.active ? t("alert.active") : t("alert.cleared")),
    ...fact("col.subject", alert.device_id ? t("alert.bracelet", { id: alert.device_id }) : t("alert.room", { id: alert.room_id })),
    ...fact("col.ward", alert.ward_id),
    ...fact("col.summary", alert.summary),
    ...fact("col.opened", formatTime(alert.opened_at)),
    ...fact("alert.events", String(alert.event_count)),
    ...fact("alert.escalation", escalation(alert)),
    ...fact("alert.acknowledged", alert.acknowledged_at ? t("alert.by", { time: formatTime(alert.acknowledged_at), who: alert.acknowledged_by }) : "—"),
    ...fact("alert.resolved", alert.resolved_at ? t("alert.by", { time: formatTime(alert.resolved_at), who: alert.resolved_by }) : "—"),
  );
}

/**
 * How far the alert escalated (a badge once above the ward's officers) and when the next step is due.
 * @param {Record<string, any>} alert
 * @returns {HTMLElement}
 */
function escalation(alert) {
  const level = alert.escalation_level ?? 0;
  return el(
    "span",
    {},
    level > 0 ? escalationBadge(level) : el("span", { "data-testid": "escalation-badge", dataset: { level: "0" } }, t("escalation.none")),
    alert.next_escalation_at ? el("small.muted", {}, ` · ${t("alert.nextStep", { time: formatTime(alert.next_escalation_at) })}`) : null,
  );
}

/**
 * An escalated alert's badge: who it went up to.
 * @param {number} level  1 ward supervisors, 2 district
 * @returns {HTMLElement}
 */
export function escalationBadge(level) {
  return el("span", { class: `esc esc-${level}`, "data-testid": "escalation-badge", dataset: { level: String(level) } }, t("escalation.badge", { who: t(`escalation.who${level}`) }));
}

/**
 * The alert's timeline entries.
 * @param {Record<string, any>} alert
 * @returns {HTMLElement[]}
 */
function steps(alert) {
  return alert.timeline.map((step) =>
    el("li", { dataset: { kind: step.kind } }, el("strong", {}, label("timeline", step.kind)), " · ", el("span.muted", {}, formatTime(step.time)), el("div", {}, step.note || "")),
  );
}

/**
 * The note form: a note goes on the timeline and leaves the status and the escalation as they are.
 * @param {(path: string, body: Record<string, any>, done: string) => Promise<boolean>} act
 * @returns {HTMLElement}
 */
function noteForm(act) {
  const text = el("textarea", { name: "add-note", "data-testid": "add-note-text", maxlength: 2000 });
  const problem = el("p.error", { role: "alert" });
  const submit = async () => {
    const note = text.value.trim();
    problem.textContent = note ? "" : t("alert.noteEmpty");
    if (note && (await act("notes", { note }, "alert.notedOk"))) text.value = "";
  };
  return el(
    "div",
    {},
    el("h2", {}, t("alert.addNoteTitle")),
    el("p.muted", {}, t("alert.addNoteHint")),
    el("label", {}, t("alert.noteText"), text),
    el("div.actions", {}, el("button", { type: "button", "data-testid": "add-note", onclick: submit }, t("alert.addNote"))),
    problem,
  );
}

/**
 * The notifications the alert's escalation queued: who was told, how, and whether it went out.
 * @param {Record<string, any>[]} sent  GET /alerts/{id} notifications
 * @returns {HTMLElement}
 */
function notifications(sent) {
  return table(
    [t("notifications.step"), t("alert.notifiedLevel"), t("notifications.channel"), t("notifications.target"), t("alert.delivery"), t("notifications.attempts"), t("notifications.lastError")],
    sent ?? [],
    (n) =>
      el(
        "tr",
        { "data-testid": "notification-row", dataset: { status: n.status, channel: n.channel, level: n.level } },
        el("td", {}, label("notificationKind", n.kind), el("div.muted", {}, formatTime(n.created_at))),
        el("td", {}, t(`escalation.who${n.level}`)),
        el("td", {}, label("notificationChannel", n.channel)),
        el("td", {}, el("code", {}, n.target)),
        el("td", {}, el("span", { class: `status delivery-${n.status}` }, label("notificationStatus", n.status)), n.sent_at ? el("div.muted", {}, t("notifications.sentAt", { time: formatTime(n.sent_at) })) : null),
        el("td", {}, String(n.attempts)),
        el("td", {}, n.last_error || "—"),
      ),
    t("alert.noNotifications"),
  );
}

/**
 * Acknowledge (with an optional note) or resolve (with a required note), as the alert's status allows.
 * @param {Record<string, any>} alert
 * @param {(path: string, body: Record<string, any>, done: string) => Promise<boolean>} act
 * @returns {HTMLElement}
 */
function actions(alert, act) {
  const note = el("textarea", { name: "note", "data-testid": "note", maxlength: 2000 });
  const problem = el("p.error", { role: "alert" });
  if (alert.status === "open") {
    return el(
      "div",
      {},
      el("h2", {}, t("alert.acknowledgeTitle")),
      el("label", {}, t("alert.note"), note),
      el("div.actions", {}, el("button.primary", { type: "button", "data-testid": "acknowledge", onclick: () => act("acknowledge", note.value.trim() ? { note: note.value.trim() } : {}, "alert.acknowledgedOk") }, t("alert.acknowledge"))),
    );
  }
  if (alert.status === "acknowledged") {
    return el(
      "div",
      {},
      el("h2", {}, t("alert.resolveTitle")),
      el("label", {}, t("alert.resolutionNote"), note),
      el(
        "div.actions",
        {},
        el("button.primary", {
          type: "button",
          "data-testid": "resolve",
          onclick: () => {
            problem.textContent = note.value.trim() ? "" : t("alert.noteRequired");
            if (note.value.trim()) act("resolve", { note: note.value.trim() }, "alert.resolvedOk");
          },
        }, t("alert.resolve")),
      ),
      problem,
    );
  }
  return el("div", {}, el("h2", {}, t("alert.resolutionNote")), el("p", { "data-testid": "resolution-note" }, alert.resolution_note || "—"));
}
