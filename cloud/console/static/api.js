/**
 * The hub's REST API as the console uses it: the same routes and per-ward authorization as any client.
 * The bearer token lives in sessionStorage (gone when the tab closes), never in a cookie.
 */

const TOKEN_KEY = "qmon.token";
const API = "/api/v1";

/** An API error with its HTTP status and the hub's `detail`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** @type {Set<() => void>} */
const signedOutListeners = new Set();

/** @returns {string|null} the current bearer token */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * Call `listener` when the hub refuses the token (expired) or the user signs out.
 * @param {() => void} listener
 */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

/** Forget the token and tell the listeners. */
export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of signedOutListeners) listener();
}

/**
 * Exchange a user name and password for a token (the OAuth2 password flow of /auth/token).
 * @param {string} username
 * @param {string} password
 */
export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password, grant_type: "password" });
  const response = await fetch(`${API}/auth/token`, { method: "POST", body });
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  const issued = await response.json();
  sessionStorage.setItem(TOKEN_KEY, issued.access_token);
}

/**
 * The `detail` of an error response, as a string.
 * @param {Response} response
 * @returns {Promise<string>}
 */
async function detailOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    return JSON.stringify(body);
  } catch {
    return response.statusText;
  }
}

/**
 * Call the API with the bearer token; JSON in and out. A 401 signs the user out.
 * @param {string} path  below /api/v1, e.g. "/alerts?status=open"
 * @param {{method?: string, body?: unknown}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${API}${path}`, init);
  if (response.status === 401) {
    signOut();
    throw new ApiError(401, await detailOf(response));
  }
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response.status === 204 ? null : response.json();
}
