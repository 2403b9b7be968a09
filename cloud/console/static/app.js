/**
 * The console's entry point: sign-in, the hash router (#/overview, #/alerts, #/alerts/ID, #/orders,
 * #/notifications for administrators),
 * the language switch, and the live alert inbox kept up to date for every view.
 */

import { api, onSignedOut, signOut, token } from "./api.js";
import { initialLanguage, onLanguageChange, setLanguage, t } from "./i18n.js";
import { inbox } from "./inbox.js";
import { renderAlert } from "./views/alert.js";
import { renderInbox } from "./views/inbox.js";
import { renderNotifications } from "./views/notifications.js";
import { renderOrders } from "./views/orders.js";
import { renderOverview } from "./views/overview.js";
import { renderSignIn } from "./views/signin.js";

const view = /** @type {HTMLElement} */ (document.getElementById("view"));
/** @type {{username: string, role: string, wards: string[]}|null} */
let me = null;
/** Cleanup of the current view (timers, listeners). @type {(() => void)|null} */
let leaveView = null;

/** Bumped by every route(): a slower, older one must not draw over a newer one. */
let routeSeq = 0;

/** Render the view the location's hash names. */
async function route() {
  const mine = ++routeSeq;
  leaveView?.();
  leaveView = null;
  if (!token()) {
    showChrome(false);
    renderSignIn(view, onSignedIn);
    return;
  }
  if (!me) {
    try {
      me = await api("/auth/me");
    } catch {
      return; // a refused token signs out, which routes again
    }
  }
  if (mine !== routeSeq) return;
  showChrome(true);
  const hash = location.hash || "#/overview";
  const [, page, id] = hash.split("/");
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.getAttribute("href") === `#/${page}`);
  }
  // Each route draws into its own container: one left behind by a newer route is simply detached.
  const container = document.createElement("div");
  view.replaceChildren(container);
  const context = { view: container, me, inbox };
  let cleanup;
  if (page === "alerts" && id) cleanup = await renderAlert(context, Number(id));
  else if (page === "alerts") cleanup = await renderInbox(context);
  else if (page === "orders") cleanup = await renderOrders(context);
  else if (page === "notifications") cleanup = await renderNotifications(context);
  else cleanup = await renderOverview(context);
  if (mine === routeSeq) leaveView = cleanup;
  else cleanup();
}

/** After a successful sign-in: start the live feed and show the overview. */
async function onSignedIn() {
  me = null;
  await inbox.start();
  if (location.hash && location.hash !== "#/") await route();
  else location.hash = "#/overview";
}

/**
 * Show or hide the navigation, the live indicator and the sign-out button.
 * @param {boolean} signedIn
 */
function showChrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("live").hidden = !signedIn;
  document.getElementById("nav-notifications").hidden = !(signedIn && me?.role === "admin");
  document.getElementById("who").textContent = signedIn && me ? t("signin.as", { user: me.username, wards: me.wards.join(", ") || "*" }) : "";
}

/** Refresh the unhandled-alert badge and the live indicator. */
function updateStatus() {
  document.getElementById("inbox-count").textContent = String(inbox.unhandled().length);
  const live = document.getElementById("live");
  live.className = `live ${inbox.connected ? "on" : "off"}`;
  live.textContent = inbox.connected ? t("live.on") : t("live.off");
  live.dataset.state = inbox.connected ? "on" : "off";
}

async function main() {
  const select = /** @type {HTMLSelectElement} */ (document.getElementById("lang"));
  select.addEventListener("change", () => setLanguage(select.value));
  await setLanguage(initialLanguage());
  select.value = document.documentElement.lang;
  onLanguageChange(() => {
    showChrome(Boolean(token()));
    updateStatus();
    route();
  });
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  onSignedOut(() => {
    inbox.stop();
    me = null;
    route();
  });
  inbox.subscribe(updateStatus);
  window.addEventListener("hashchange", route);
  if (token()) await inbox.start();
  updateStatus();
  await route();
}

main();
