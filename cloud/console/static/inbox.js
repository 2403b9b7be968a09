/**
 * The live alert inbox: the caller's alerts not yet resolved, loaded once and then kept current by the
 * SSE feed. Views subscribe to it; nothing here touches the DOM.
 */

import { api, signOut } from "./api.js";
import { followAlerts } from "./stream.js";

const PAGE = 200;

class Inbox {
  constructor() {
    /** @type {Map<number, Record<string, any>>} alert id -> alert */
    this.alerts = new Map();
    /** @type {Set<number>} alerts changed by the live feed (for highlighting) */
    this.fresh = new Set();
    this.connected = false;
    /** @type {Set<(alert?: Record<string, any>) => void>} */
    this.listeners = new Set();
    /** @type {(() => void)|null} */
    this.stopFeed = null;
  }

  /** Load the open and acknowledged alerts, then follow the live feed. */
  async start() {
    this.stop();
    this.alerts.clear();
    // Follow first, so that a change committed while the lists load is not missed (upsert is idempotent).
    this.stopFeed = followAlerts(
      (change) => this.apply(change.alert, true),
      (connected) => {
        this.connected = connected;
        this.notify();
      },
    );
    try {
      for (const status of ["open", "acknowledged"]) {
        const page = await api(`/alerts?status=${status}&limit=${PAGE}`);
        for (const alert of page.items) this.apply(alert, false);
      }
    } catch (error) {
      if (error.status === 401) signOut();
    }
    this.notify();
  }

  /** Stop following the feed. */
  stop() {
    this.stopFeed?.();
    this.stopFeed = null;
    this.connected = false;
  }

  /**
   * Insert or replace an alert (an older version never replaces a newer one).
   * @param {Record<string, any>} alert
   * @param {boolean} live  true when it came from the feed
   */
  apply(alert, live) {
    const known = this.alerts.get(alert.id);
    if (known && known.version > alert.version) return;
    this.alerts.set(alert.id, alert);
    if (live) this.fresh.add(alert.id);
    this.notify(alert);
  }

  /** @returns {Record<string, any>[]} every known alert, newest first */
  list() {
    return [...this.alerts.values()].sort((a, b) => b.id - a.id);
  }

  /** @returns {Record<string, any>[]} the alerts still waiting for the officer (open) */
  unhandled() {
    return this.list().filter((a) => a.status === "open");
  }

  /**
   * Call `listener` on every change; returns the unsubscribe function.
   * @param {(alert?: Record<string, any>) => void} listener
   * @returns {() => void}
   */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @param {Record<string, any>} [alert] */
  notify(alert) {
    for (const listener of this.listeners) listener(alert);
  }
}

export const inbox = new Inbox();
