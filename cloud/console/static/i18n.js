/**
 * Message catalogs (i18n/en.json, i18n/vi.json) and the current language.
 *
 * Every visible string goes through `t(key, params)`; static markup names its key in `data-i18n`
 * (text) or `data-i18n-placeholder` (placeholder), and `translatePage()` fills them in.
 */

/** @type {readonly string[]} */
export const LANGUAGES = ["vi", "en"];
const STORAGE_KEY = "qmon.lang";

/** @type {Record<string, string>} */
let catalog = {};
/** @type {Record<string, string>} */
let fallback = {};
let current = "en";
/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * The language to start with: the user's last choice, else the browser's language (Vietnamese or English).
 * @returns {string}
 */
export function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && LANGUAGES.includes(saved)) return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

/**
 * Fetch one catalog.
 * @param {string} lang
 * @returns {Promise<Record<string, string>>}
 */
async function loadCatalog(lang) {
  const response = await fetch(`i18n/${lang}.json`);
  if (!response.ok) throw new Error(`catalog ${lang}: HTTP ${response.status}`);
  return response.json();
}

/**
 * Switch the language, remember the choice, and re-render whatever listens.
 * @param {string} lang
 */
export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = "en";
  if (!Object.keys(fallback).length) fallback = await loadCatalog("en");
  catalog = lang === "en" ? fallback : await loadCatalog(lang);
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  translatePage();
  for (const listener of listeners) listener();
}

/** @returns {string} the current language code */
export function language() {
  return current;
}

/**
 * Call `listener` after every language change; returns the unsubscribe function.
 * @param {() => void} listener
 * @returns {() => void}
 */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The message for `key` in the current language (English, then the key itself, as fallbacks), with
 * `{name}` placeholders replaced from `params`.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const template = catalog[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/**
 * A label from a catalog group (`state.out`, `alertType.tamper`...), or the raw value if the catalog has none.
 * @param {string} group
 * @param {string|null|undefined} value
 * @returns {string}
 */
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = `${group}.${value}`;
  return key in catalog || key in fallback ? t(key) : String(value);
}

/** Fill every element with `data-i18n` / `data-i18n-placeholder` under `root`. */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  document.title = t("app.title");
}

/**
 * A date and time in the current language's conventions (the browser's time zone).
 * @param {string|null|undefined} iso
 * @returns {string}
 */
export function formatTime(iso) {
  if (!iso) return "—";
  const locale = current === "vi" ? "vi-VN" : "en-GB";
  return new Date(iso).toLocaleString(locale, { dateStyle: "short", timeStyle: "medium" });
}
