/** Alert notifications (webhook, e-mail): failed, pending or sent, newest first; administrators retry failed ones. */

import { api } from "../api.js";
import { el, table } from "../dom.js";
import { formatTime, label, t } from "../i18n.js";

const STATUSES = ["failed", "pending", "sent"];
const PAGE = 50;

/**
 * Render the notifications page (failed ones first).
 * @param {{view: HTMLElement, me: {role: string}}} context
 * @returns {Promise<() => void>} cleanup
 */
export async function renderNotifications({ view, me }) {
  // The API lets officers read their wards' notifications; only an administrator sends one again.
  const canRetry = me.role === "admin";
  const message = el("p", { role: "status", "data-testid": "notifications-message" });
  const list = el("div", { "data-testid": "notifications" });
  const more = el("button.secondary", { type: "button", "data-testid": "notifications-more", hidden: true }, t("notifications.more"));
  const status = el(
    "select",
    { "data-testid": "notification-status", "aria-label": t("col.status") },
    ...STATUSES.map((s) => el("option", { value: s }, label("notificationStatus", s))),
  );
  /** @type {Record<string, any>[]} */
  let shown = [];
  /**
   * Show the outcome of an action.
   * @param {string} text
   * @param {boolean} [failed]
   */
  const say = (text, failed = false) => {
    message.className = failed ? "error" : "notice";
    message.textContent = text;
  };
  /**
   * Load the first page of the chosen status, or (`append`) the next one.
   * @param {boolean} [append]
   */
  async function load(append = false) {
    try {
      const page = await api(`/notifications?status=${status.value}&limit=${PAGE}&offset=${append ? shown.length : 0}`);
      shown = append ? [...shown, ...page.items] : page.items;
      list.replaceChildren(notificationsTable(shown, canRetry, retry));
      more.hidden = page.next_offset === null;
    } catch (error) {
      say(t("error.generic", { detail: error.message }), true);
    }
  }
  /**
   * Queue a failed notification again, then reload the list (it leaves the failed ones).
   * @param {number} id
   */
  async function retry(id) {
    try {
      await api(`/notifications/${id}/retry`, { method: "POST" });
      say(t("notifications.retried", { id }));
    } catch (error) {
      say(t("error.generic", { detail: error.message }), true);
    }
    await load();
  }
  status.addEventListener("change", () => {
    message.textContent = "";
    load();
  });
  more.addEventListener("click", () => load(true));
  const intro = [el("p.muted", {}, t("notifications.hint"))];
  if (!canRetry) intro.push(el("p.muted", {}, t("notifications.readOnly")));
  view.replaceChildren(
    el("h1", {}, t("notifications.title")),
    ...intro,
    el("div.actions", {}, el("label", {}, t("col.status"), status)),
    message,
    list,
    el("div.actions", {}, more),
  );
  await load();
  return () => {};
}

/**
 * The notifications with their delivery state, and a Retry button on failed ones.
 * @param {Record<string, any>[]} items
 * @param {boolean} canRetry
 * @param {(id: number) => Promise<void>} retry
 * @returns {HTMLElement}
 */
function notificationsTable(items, canRetry, retry) {
  const headings = ["#", t("notifications.alert"), t("col.ward"), t("notifications.channel"), t("notifications.target"), t("notifications.step"), t("col.status"), t("notifications.attempts"), t("notifications.lastError"), t("notifications.time")];
  return table(
    canRetry ? [...headings, ""] : headings,
    items,
    (n) =>
      el(
        "tr",
        { "data-testid": "notification-row", dataset: { notificationId: n.id, status: n.status, channel: n.channel } },
        el("td", {}, n.id),
        el("td", {}, el("a", { href: `#/alerts/${n.alert_id}` }, `#${n.alert_id}`)),
        el("td", { style: "white-space: nowrap" }, n.ward_id),
        el("td", {}, label("notificationChannel", n.channel)),
        el("td", {}, el("code", {}, n.target)),
        el("td", {}, label("notificationKind", n.kind), el("small.muted", {}, ` · ${t("notifications.level", { level: n.level })}`)),
        el("td", {}, el("span", { class: `status delivery-${n.status}` }, label("notificationStatus", n.status))),
        el("td", {}, n.attempts),
        el("td", {}, n.last_error ? el("small", { "data-testid": "notification-error" }, n.last_error) : "—"),
        el("td", {}, when(n)),
        canRetry
          ? el("td", {}, n.status === "failed"
            ? el("button.primary", {
              type: "button",
              "data-testid": "retry",
              onclick: (/** @type {MouseEvent} */ event) => {
                /** @type {HTMLButtonElement} */ (event.currentTarget).disabled = true;
                retry(n.id);
              },
            }, t("notifications.retry"))
            : null)
          : null,
      ),
    t("notifications.none"),
  );
}

/**
 * The time that matters for a notification's status: when it was sent, or is attempted next, or was queued.
 * @param {Record<string, any>} n
 * @returns {string}
 */
function when(n) {
  if (n.status === "sent") return t("notifications.sentAt", { time: formatTime(n.sent_at) });
  if (n.status === "pending") return t("notifications.nextAt", { time: formatTime(n.next_attempt_at) });
  return t("notifications.createdAt", { time: formatTime(n.created_at) });
}
