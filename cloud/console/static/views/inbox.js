/** The live alert inbox: open and acknowledged alerts, updated by the SSE feed without reloading. */

import { el, table } from "../dom.js";
import { formatTime, label, t } from "../i18n.js";
import { escalationBadge } from "./alert.js";

/**
 * Render the inbox and re-render it on every live change.
 * @param {{view: HTMLElement, inbox: import("../inbox.js").inbox}} context
 * @returns {Promise<() => void>} cleanup
 */
export async function renderInbox({ view, inbox }) {
  const body = el("div", { "data-testid": "inbox" });
  view.replaceChildren(el("h1", {}, t("inbox.title")), el("p.muted", {}, t("inbox.hint")), body);
  const draw = () => body.replaceChildren(alertTable(inbox.list(), inbox.fresh));
  draw();
  return inbox.subscribe(draw);
}

/**
 * The alerts as rows that open the alert's page.
 * @param {Record<string, any>[]} alerts
 * @param {Set<number>} fresh  ids changed live (highlighted once)
 * @returns {HTMLElement}
 */
function alertTable(alerts, fresh) {
  return table(
    ["#", t("col.type"), t("col.severity"), t("col.status"), t("col.subject"), t("col.summary"), t("col.opened")],
    alerts,
    (a) => {
      const row = el(
        "tr.clickable",
        { "data-testid": "alert-row", dataset: { alertId: a.id, type: a.type, device: a.device_id ?? "" }, onclick: () => (location.hash = `#/alerts/${a.id}`) },
        el("td", {}, el("a", { href: `#/alerts/${a.id}` }, a.id)),
        el("td", {}, label("alertType", a.type), a.active ? null : el("small.muted", {}, ` (${t("alert.cleared")})`)),
        el("td", {}, el("span", { class: `sev sev-${a.severity}` }, label("severity", a.severity))),
        el("td", {}, el("span", { class: `status status-${a.status}` }, label("status", a.status)), a.escalation_level > 0 && escalationBadge(a.escalation_level)),
        el("td", {}, a.device_id ? t("alert.bracelet", { id: a.device_id }) : t("alert.room", { id: a.room_id })),
        el("td", {}, a.summary),
        el("td", {}, formatTime(a.opened_at)),
      );
      if (fresh.delete(a.id)) row.classList.add("flash");
      return row;
    },
    t("inbox.empty"),
  );
}
