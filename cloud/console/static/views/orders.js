/** Quarantine orders: list, create, activate a pending one (bracelet or room), extend, end for a reason. */

import { api } from "../api.js";
import { el, isoFromLocalInput, localInputValue, table } from "../dom.js";
import { formatTime, label, t } from "../i18n.js";

const DAY_MS = 24 * 3600 * 1000;
// Why an order ends (cloud/release.py): the hub checks each against its release policy and says what is missing.
const END_REASONS = ["negative_test", "transferred", "cleared", "entered_in_error", "completed"];

/**
 * Render the orders page.
 * @param {{view: HTMLElement, me: {role: string, wards: string[]}}} context
 * @returns {Promise<() => void>} cleanup
 */
export async function renderOrders({ view, me }) {
  const message = el("p", { role: "status", "data-testid": "orders-message" });
  const list = el("div", { "data-testid": "orders" });
  /**
   * Show the outcome of an action.
   * @param {string} text
   * @param {boolean} [failed]
   */
  const say = (text, failed = false) => {
    message.className = failed ? "error" : "notice";
    message.textContent = text;
  };
  // Ward officers read orders; supervisors and admins (the API's managers) create and change them.
  const canManage = me.role !== "ward_officer";
  async function refresh() {
    try {
      const orders = await api("/orders?limit=200");
      list.replaceChildren(ordersTable(orders, canManage, refresh, say));
    } catch (error) {
      say(t("error.generic", { detail: error.message }), true);
    }
  }
  // replaceChildren would write a null as the text "null": leave the read-only note or the form out instead.
  view.replaceChildren(
    el("h1", {}, t("orders.title")),
    canManage
      ? el("details.card", {}, el("summary", { "data-testid": "new-order" }, t("orders.create")), createForm(me, refresh, say))
      : el("p.muted", {}, t("orders.readOnly")),
    message,
    list,
  );
  await refresh();
  return () => {};
}

/**
 * The form for a new order: home quarantine with a bracelet, or a facility room.
 * @param {{wards: string[]}} me
 * @param {() => Promise<void>} refresh
 * @param {(text: string, failed?: boolean) => void} say
 * @returns {HTMLElement}
 */
function createForm(me, refresh, say) {
  const now = new Date();
  const field = (key, input) => el("label", {}, t(key), input);
  const inputs = {
    name: el("input", { name: "full_name", required: true }),
    phone: el("input", { name: "phone", type: "tel" }),
    identity: el("input", { name: "identity_number", inputmode: "numeric", autocomplete: "off", placeholder: t("orders.identityHint") }),
    ward: me.wards.length
      ? el("select", { name: "ward_id" }, ...me.wards.map((w) => el("option", { value: w }, w)))
      : el("input", { name: "ward_id", required: true }),
    address: el("input", { name: "address", required: true }),
    site: el("input", { name: "site_id", required: true }),
    kind: el("select", { name: "kind" }, el("option", { value: "device" }, t("orders.home")), el("option", { value: "room" }, t("orders.facility"))),
    subject: el("input", { name: "subject", required: true, placeholder: "0000e001 / room-1" }),
    starts: el("input", { name: "starts_at", type: "datetime-local", value: localInputValue(now), required: true }),
    ends: el("input", { name: "ends_at", type: "datetime-local", value: localInputValue(new Date(now.getTime() + 14 * DAY_MS)), required: true }),
  };
  return el(
    "form.grid",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const person = { full_name: inputs.name.value };
        if (inputs.phone.value) person.phone = inputs.phone.value;
        if (inputs.identity.value.trim()) person.identity_number = inputs.identity.value.trim();
        const body = {
          person,
          ward_id: inputs.ward.value,
          address: inputs.address.value,
          site_id: inputs.site.value,
          [inputs.kind.value === "device" ? "device_id" : "room_id"]: inputs.subject.value.trim(),
          starts_at: isoFromLocalInput(inputs.starts.value),
          ends_at: isoFromLocalInput(inputs.ends.value),
        };
        try {
          const order = await api("/orders", { method: "POST", body });
          event.target.reset();
          await refresh();
          say(t("orders.created", { id: order.id }));
        } catch (error) {
          say(t("error.generic", { detail: error.message }), true);
        }
      },
    },
    field("col.person", inputs.name),
    field("orders.phone", inputs.phone),
    field("orders.identityNumber", inputs.identity),
    field("col.ward", inputs.ward),
    field("orders.address", inputs.address),
    field("col.site", inputs.site),
    field("orders.kind", inputs.kind),
    field("orders.subject", inputs.subject),
    field("orders.starts", inputs.starts),
    field("col.ends", inputs.ends),
    el("button.primary", { type: "submit" }, t("orders.createSubmit")),
  );
}

/**
 * The orders with the actions their status allows.
 * @param {Record<string, any>[]} orders
 * @param {boolean} canManage  show the actions (the API refuses them to ward officers anyway)
 * @param {() => Promise<void>} refresh
 * @param {(text: string, failed?: boolean) => void} say
 * @returns {HTMLElement}
 */
function ordersTable(orders, canManage, refresh, say) {
  const headings = ["#", t("col.person"), t("col.ward"), t("col.status"), t("col.subject"), t("col.site"), t("orders.starts"), t("col.ends")];
  return table(
    canManage ? [...headings, t("orders.actions")] : headings,
    orders,
    (o) =>
      el(
        "tr",
        { "data-testid": "order-row", dataset: { orderId: o.id, status: o.status } },
        el("td", {}, o.id),
        el("td", {}, el("div", {}, o.person.full_name), el("small.muted", {}, o.address)),
        el("td", {}, o.ward_id),
        el("td", {}, label("orderStatus", o.status), o.end_reason ? releaseFacts(o) : null),
        el("td", {}, o.device_id ? t("alert.bracelet", { id: o.device_id }) : o.room_id ? t("alert.room", { id: o.room_id }) : "—"),
        el("td", {}, o.site_id),
        el("td", {}, formatTime(o.starts_at)),
        el("td", {}, formatTime(o.ends_at)),
        canManage ? el("td", {}, orderActions(o, refresh, say)) : null,
      ),
    t("orders.none"),
  );
}

/**
 * How an ended order ended: the reason, the releasing sample or the note, and who ended it.
 * @param {Record<string, any>} order
 * @returns {HTMLElement}
 */
function releaseFacts(order) {
  const detail = order.release_sample_id ? t("orders.releasedBySample", { id: order.release_sample_id }) : order.end_note;
  return el(
    "div",
    { "data-testid": "release-facts" },
    el("small", {}, label("endReason", order.end_reason)),
    detail ? el("div", {}, el("small.muted", {}, detail)) : null,
    order.ended_by ? el("div", {}, el("small.muted", {}, t("orders.endedBy", { user: order.ended_by }))) : null,
  );
}

/**
 * The form that ends an order: a reason, the releasing sample (negative test) or a note; the hub's refusal
 * (what its release policy still needs) is shown in the form.
 * @param {Record<string, any>} order
 * @param {(body: Record<string, any>, failed: (text: string) => void) => Promise<void>} submit
 * @returns {HTMLFormElement}
 */
function endForm(order, submit) {
  const reasons = END_REASONS.filter((r) => r !== "cleared" || order.status === "pending");
  const reason = el("select", { name: "reason", "aria-label": t("orders.reason") }, ...reasons.map((r) => el("option", { value: r }, label("endReason", r))));
  const sample = el("input", { name: "release_sample_id", type: "number", min: 1, step: 1, placeholder: t("orders.sampleHint") });
  const sampleField = el("label", {}, t("orders.sample"), sample);
  const note = el("input", { name: "note", maxlength: 500, placeholder: t("orders.noteHint") });
  const error = el("p.error", { role: "alert", "data-testid": "end-error", hidden: true });
  const showSample = () => {
    sampleField.hidden = reason.value !== "negative_test";
  };
  reason.addEventListener("change", showSample);
  showSample();
  return el(
    "form",
    {
      "data-testid": "end-form",
      hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        const body = { reason: reason.value };
        if (reason.value === "negative_test" && sample.value) body.release_sample_id = Number(sample.value);
        if (note.value.trim()) body.note = note.value.trim();
        await submit(body, (text) => {
          error.textContent = text;
          error.hidden = false;
        });
      },
    },
    el("div.actions", {}, el("label", {}, t("orders.reason"), reason), sampleField, el("label", {}, t("orders.note"), note)),
    error,
    el("div.actions", {}, el("button.danger", { type: "submit", "data-testid": "end-submit" }, t("orders.endSubmit"))),
  );
}

/**
 * Extend / end an active or pending order; activate a pending one.
 * @param {Record<string, any>} order
 * @param {() => Promise<void>} refresh
 * @param {(text: string, failed?: boolean) => void} say
 * @returns {HTMLElement|string}
 */
function orderActions(order, refresh, say) {
  if (order.status === "ended") return "—";
  /**
   * @param {string} path
   * @param {string} method
   * @param {Record<string, any>} body
   * @param {string} done
   */
  const call = async (path, method, body, done) => {
    try {
      await api(path, { method, body });
      await refresh();
      say(t(done, { id: order.id }));
    } catch (error) {
      say(t("error.generic", { detail: error.message }), true);
    }
  };
  const ending = endForm(order, async (body, failed) => {
    try {
      await api(`/orders/${order.id}/end`, { method: "POST", body });
      await refresh();
      say(t("orders.ended", { id: order.id }));
    } catch (error) {
      failed(t("error.generic", { detail: error.message }));
    }
  });
  const newEnd = el("input", { type: "datetime-local", "data-testid": "new-end", value: localInputValue(new Date(Date.parse(order.ends_at) + 7 * DAY_MS)), "aria-label": t("orders.newEnd") });
  const box = el(
    "div",
    {},
    el("div.actions", {}, newEnd, el("button.secondary", { type: "button", "data-testid": "extend", onclick: () => call(`/orders/${order.id}`, "PATCH", { ends_at: isoFromLocalInput(newEnd.value) }, "orders.extended") }, t("orders.extend"))),
    el("div.actions", {}, el("button.danger", {
      type: "button",
      "data-testid": "end",
      onclick: () => {
        ending.hidden = !ending.hidden;
      },
    }, t("orders.end"))),
    ending,
  );
  if (order.status === "pending") {
    const site = el("input", { placeholder: t("col.site"), "aria-label": t("col.site") });
    const kind = el("select", {}, el("option", { value: "device_id" }, t("orders.home")), el("option", { value: "room_id" }, t("orders.facility")));
    const subject = el("input", { placeholder: t("orders.subject"), "aria-label": t("orders.subject") });
    box.prepend(
      el("div.actions", {}, site, kind, subject, el("button.primary", { type: "button", onclick: () => call(`/orders/${order.id}/activate`, "POST", { site_id: site.value.trim(), [kind.value]: subject.value.trim() }, "orders.activated") }, t("orders.activate"))),
    );
  }
  return box;
}
