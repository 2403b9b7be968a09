/**
 * The live alert feed (/api/v1/alerts/stream) read with fetch() and a streaming reader: EventSource cannot
 * send an Authorization header. Reconnects after the server's `retry` delay with Last-Event-ID, so the
 * hub replays every change missed meanwhile.
 */

import { signOut, token } from "./api.js";

/**
 * @typedef {{change_id: number, kind: string, time: string, alert: Record<string, any>}} AlertChange
 */

/**
 * Follow the feed until the returned function is called.
 * @param {(change: AlertChange) => void} onChange  called for every alert change, in order
 * @param {(connected: boolean) => void} onStatus  called when the connection opens or drops
 * @returns {() => void} stop
 */
export function followAlerts(onChange, onStatus) {
  const controller = new AbortController();
  let lastEventId = null;
  let retryMs = 3000;

  /** One connection: read events until the server or the network ends it. */
  async function connect() {
    const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
    if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch("/api/v1/alerts/stream", { headers, signal: controller.signal });
    if (response.status === 401) throw Object.assign(new Error("unauthorised"), { fatal: true });
    if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
    onStatus(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  /**
   * Parse one SSE block (lines of `field: value`) and hand an `alert` event over.
   * @param {string} block
   */
  function dispatch(block) {
    let event = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id !== null) lastEventId = id;
    if (event === "alert" && data.length) onChange(JSON.parse(data.join("\n")));
  }

  (async () => {
    while (!controller.signal.aborted) {
      try {
        await connect();
      } catch (error) {
        if (controller.signal.aborted) break;
        if (error.fatal) {
          onStatus(false);
          signOut(); // the token expired: sign in again
          break;
        }
      }
      onStatus(false);
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  })();
  return () => controller.abort();
}
