/** Small DOM helpers: build elements without innerHTML, so that data is never parsed as markup. */

/**
 * Create an element.
 * @param {string} tag  e.g. "td" or "button.primary" (classes after dots)
 * @param {Record<string, any>} [attrs]  attributes; `on*` functions become listeners, `dataset` an object
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const node = document.createElement(name);
  if (classes.length) node.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = [node.className, value].filter(Boolean).join(" ");
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * A table with a header row and one row per item.
 * @template T
 * @param {string[]} headings  already translated
 * @param {T[]} items
 * @param {(item: T) => HTMLTableRowElement} row
 * @param {string} empty  text shown when there are no items
 * @returns {HTMLElement}
 */
export function table(headings, items, row, empty) {
  if (!items.length) return el("p.muted", {}, empty);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...items.map(row)),
  );
}

/**
 * A value as a `datetime-local` input's value (local time, minutes).
 * @param {Date} date
 * @returns {string}
 */
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * A `datetime-local` input's value as an ISO instant with offset (the API wants aware times).
 * @param {string} value
 * @returns {string}
 */
export function isoFromLocalInput(value) {
  return new Date(value).toISOString();
}
