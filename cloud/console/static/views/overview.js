/** The ward overview: everyone in quarantine with their state now, facility rooms, orders ending soon. */

import { api } from "../api.js";
import { el, table } from "../dom.js";
import { formatTime, label, t } from "../i18n.js";

const REFRESH_MS = 10000;
const STATES = ["hub_offline", "bracelet_off", "strap_open", "signal_lost", "out", "at_home", "unknown"];

/**
 * Render the overview and refresh it every few seconds (and on every live alert change).
 * @param {{view: HTMLElement, inbox: import("../inbox.js").inbox}} context
 * @returns {Promise<() => void>} cleanup
 */
export async function renderOverview({ view, inbox }) {
  let stopped = false;
  const body = el("div", { "data-testid": "overview" });
  view.replaceChildren(el("h1", {}, t("overview.title")), body);

  async function refresh() {
    try {
      const data = await api("/overview");
      if (!stopped) body.replaceChildren(...sections(data));
    } catch (error) {
      if (!stopped) body.replaceChildren(el("p.error", {}, t("error.generic", { detail: error.message })));
    }
  }
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  const unsubscribe = inbox.subscribe((alert) => alert && refresh());
  return () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe();
  };
}

/**
 * The overview's sections.
 * @param {Record<string, any>} data  GET /overview
 * @returns {HTMLElement[]}
 */
function sections(data) {
  const chips = el(
    "div.chips",
    {},
    ...STATES.map((state) =>
      el("span.chip", { "data-testid": `count-${state}` }, el("b", {}, data.counts[state] ?? 0), el("span", { class: `state state-${state}` }, label("state", state))),
    ),
  );
  const people = table(
    [t("col.person"), t("col.state"), t("col.conditions"), t("col.device"), t("col.battery"), t("col.lastSeen"), t("col.ends")],
    data.people,
    (p) =>
      el(
        "tr",
        { "data-testid": "person-row", dataset: { device: p.device_id ?? "" } },
        el("td", {}, el("div", {}, p.full_name), el("small.muted", {}, p.address)),
        el("td", {}, el("span", { class: `state state-${p.state}` }, label("state", p.state))),
        el("td", {}, p.conditions.map((c) => label("condition", c)).join(", ") || "—"),
        el("td", {}, p.device_id ?? "—"),
        el("td", {}, p.battery === null ? "—" : `${p.battery} %`),
        el("td", {}, formatTime(p.last_seen_at)),
        el("td", {}, formatTime(p.ends_at)),
      ),
    t("overview.noPeople"),
  );
  const rooms = table(
    [t("col.room"), t("col.site"), t("col.occupancy"), t("col.present"), t("col.camera"), t("col.lastSeen")],
    data.rooms,
    (r) =>
      el(
        "tr",
        { "data-testid": "room-row" },
        el("td", {}, r.room_id),
        el("td", {}, r.site_id),
        el("td", {}, r.faces === null ? "—" : t("overview.occupancy", { faces: r.faces, allowed: r.allowed })),
        el("td", {}, r.person_present === null ? "—" : r.person_present ? t("common.yes") : t("common.no")),
        el("td", {}, label("camera", r.camera)),
        el("td", {}, formatTime(r.time)),
      ),
    t("overview.noRooms"),
  );
  const ending = table(
    [t("col.person"), t("col.ward"), t("col.ends")],
    data.ending_soon,
    (o) => el("tr", {}, el("td", {}, o.person.full_name), el("td", {}, o.ward_id), el("td", {}, formatTime(o.ends_at))),
    t("overview.noneEnding"),
  );
  const pending = table(
    [t("col.person"), t("col.ward"), t("orders.address")],
    data.pending,
    (o) => el("tr", { "data-testid": "pending-row" }, el("td", {}, el("a", { href: "#/orders" }, o.person.full_name)), el("td", {}, o.ward_id), el("td", {}, o.address)),
    t("overview.nonePending"),
  );
  return [
    chips,
    el("h2", {}, t("overview.people")),
    people,
    el("h2", {}, t("overview.rooms")),
    rooms,
    el("h2", {}, t("overview.endingSoon")),
    ending,
    el("h2", {}, t("overview.pending")),
    pending,
    el("p.muted", {}, t("overview.updated", { time: formatTime(data.generated_at) })),
  ];
}
