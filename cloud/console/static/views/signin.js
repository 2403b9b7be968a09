/** The sign-in page: the token endpoint's password flow. */

import { signIn } from "../api.js";
import { el } from "../dom.js";
import { t } from "../i18n.js";

/**
 * Render the sign-in form; `onSignedIn` runs once the hub issued a token.
 * @param {HTMLElement} view
 * @param {() => Promise<void>} onSignedIn
 */
export function renderSignIn(view, onSignedIn) {
  const error = el("p.error", { role: "alert", "data-testid": "signin-error" });
  const username = el("input", { name: "username", autocomplete: "username", required: true });
  const password = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = el("button.primary", { type: "submit" }, t("signin.submit"));
  const form = el(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        error.textContent = "";
        try {
          await signIn(username.value.trim(), password.value);
          await onSignedIn();
        } catch (failure) {
          error.textContent = failure.status === 401 ? t("signin.refused") : t("error.generic", { detail: failure.message });
        } finally {
          submit.disabled = false;
        }
      },
    },
    el("label", {}, t("signin.username"), username),
    el("label", {}, t("signin.password"), password),
    submit,
    error,
  );
  view.replaceChildren(el("section.card.signin", {}, el("h1", {}, t("signin.title")), el("p.muted", {}, t("signin.hint")), form));
  username.focus();
}
