// aico-log: a browser logger for the aico frontend bridge. An ES module; no build step.
//
//   import { createLogger } from "./aico-log.js";
//   const log = createLogger({ url: "http://127.0.0.1:8771", token, module: "web.chat" });
//   log.info("user clicked send", { function: "sendMessage", topic: "ui/button/click", traceId });
//
// Records are batched by size and time and POSTed to /api/v1/logs/batch. Until the bridge
// acknowledges them they wait in IndexedDB (localStorage where that is missing), so a reload
// or a bridge that is down loses nothing; failed sends are retried with exponential backoff
// and jitter. On page hide the unsent records go out with navigator.sendBeacon (best effort:
// they also stay stored until a normal request is acknowledged). Each record is stamped with
// this page load's id and a sequence number, and the store keeps one copy per stamp, so a
// record sent twice (beacon, then again after the reload) is stored once. No method throws.

import { dropSlots, dropStash, openStorage, readStashes, stash } from "./storage.js";

const LEVELS = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
const DEFAULTS = {
  url: "http://127.0.0.1:8771",
  token: "",
  subsystem: "frontend",
  module: "frontend",
  topic: "frontend",
  environment: undefined,
  level: "debug",
  batchSize: 100,
  flushIntervalMs: 1000,
  maxBuffer: 10000,
  minBackoffMs: 500,
  maxBackoffMs: 30000,
  requestTimeoutMs: 10000,
  storageName: "aico-log",
  beacon: true,
  onError: null,
};
const MAX_MESSAGE_CHARS = 21000; // at most 3 UTF-8 bytes a UTF-16 unit: under the bridge's 64 KiB
const BEACON_BYTES = 60000; // browsers keep at most 64 KiB of beacons in flight per page

function newId() {
  try {
    if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    return Date.now().toString(16) + Math.random().toString(16).slice(2);
  }
}

function jsonSafe(value) {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (err) {
    return { unserializable: String(err && err.message) };
  }
}

function errorDetails(error) {
  if (!error) return undefined;
  if (error instanceof Error) return { type: error.name, message: error.message, stack: error.stack || "" };
  return { type: typeof error, message: String(error) };
}

class Client {
  constructor(options) {
    this.o = { ...DEFAULTS, ...options };
    this.o.url = String(this.o.url).replace(/\/+$/, "");
    this.threshold = LEVELS[String(this.o.level).toLowerCase()] || 10;
    this.producerId = newId(); // this page load's id: with seq, the stamp the store keeps once
    this.seq = 0;
    this.items = []; // unacknowledged, oldest first: { key, record, persisted, done }
    this.toPersist = [];
    this.inflight = false;
    this.timer = null;
    this.timerAt = 0;
    this.retryAt = 0;
    this.attempt = 0;
    this.limit = this.o.batchSize;
    this.waiters = [];
    this.counts = { logged: 0, sent: 0, accepted: 0, rejected: 0, retries: 0, beacons: 0, truncated: 0 };
    this.dropped = {};
    this.lastError = null;
    this.lastRejected = [];
    this.storage = null;
    this.closed = false;
    this.ready = this._init().catch((err) => {
      this._error(err);
      this.storageReady = true; // send what this page logs, at least
      this._schedule(0);
    });
    this._listen();
  }

  // -- taking records --------------------------------------------------------------------
  log(level, message, context, fields) {
    try {
      if (this.closed || LEVELS[level] < this.threshold) return;
      if (this.items.length >= this.o.maxBuffer) {
        this._drop("buffer_full");
        return;
      }
      const record = this._record(level, message, { ...context, ...(fields || {}) });
      const item = { key: `${record.producer_id}:${record.seq}`, record, persisted: false, done: false };
      this.items.push(item);
      this.toPersist.push(item);
      this.counts.logged++;
      this._persistSoon();
      this._schedule(this._unsent() >= this.limit ? 0 : this.o.flushIntervalMs);
    } catch (err) {
      this._error(err);
    }
  }

  _record(level, message, f) {
    let text = typeof message === "string" ? message : String(message);
    if (text.length > MAX_MESSAGE_CHARS) {
      text = `${text.slice(0, MAX_MESSAGE_CHARS)}…[truncated]`;
      this.counts.truncated++;
    }
    const record = {
      timestamp: new Date().toISOString().replace("Z", "000Z"), // the store's form: microseconds, UTC
      level: level.toUpperCase(),
      subsystem: f.subsystem || this.o.subsystem,
      module: f.module || this.o.module,
      function: f.function || f.functionName || "anonymous",
      topic: f.topic || this.o.topic,
      message: text,
      origin: "frontend",
      producer_id: this.producerId,
      seq: ++this.seq,
    };
    const optional = {
      file: f.file,
      line: Number.isInteger(f.line) && f.line >= 0 ? f.line : undefined,
      trace_id: f.traceId ?? f.trace_id,
      session_id: f.sessionId ?? f.session_id,
      user_id: f.userId ?? f.user_id,
      environment: f.environment ?? this.o.environment,
      extra: f.extra && typeof f.extra === "object" ? jsonSafe(f.extra) : undefined,
      error_details: errorDetails(f.error),
    };
    for (const [name, value] of Object.entries(optional)) {
      if (value === undefined || value === null || value === "") continue;
      record[name] = typeof value === "object" || name === "line" ? value : String(value);
    }
    return record;
  }

  // -- storage ----------------------------------------------------------------------------
  async _init() {
    this.storage = await openStorage(this.o.storageName, (err) => this._error(err));
    const { slots, items: stashed } = readStashes(this.o.storageName);
    let stored = [];
    try {
      stored = await this.storage.all();
    } catch (err) {
      this._error(err);
    }
    const known = new Set(this.items.map((i) => i.key));
    const old = [];
    for (const { key, record } of [...stored, ...stashed]) {
      if (!key || !record || known.has(key)) continue;
      known.add(key);
      old.push({ key, record, persisted: false, done: false });
    }
    const fromStore = new Set(stored.map((s) => s.key));
    for (const item of old) item.persisted = fromStore.has(item.key);
    const room = Math.max(0, this.o.maxBuffer - this.items.length);
    const kept = old.slice(Math.max(0, old.length - room)); // past the bound, the oldest go
    const lost = old.slice(0, old.length - kept.length);
    if (lost.length) {
      this._drop("buffer_full", lost.length);
      await this._remove(lost.filter((i) => i.persisted).map((i) => i.key));
    }
    this.items = [...kept, ...this.items];
    this.toPersist.push(...kept.filter((i) => !i.persisted));
    this.storageReady = true;
    await this._persist();
    dropSlots(slots); // the stashed records are in storage now
    // Records from before this page go out at once; this page's own wait for the flush interval.
    this._schedule(kept.length || this._unsent() >= this.limit ? 0 : this.o.flushIntervalMs);
  }

  _persistSoon() {
    if (this.persistQueued || !this.storageReady) return;
    this.persistQueued = true;
    setTimeout(() => this._persist().catch((err) => this._error(err)), 0);
  }

  async _persist() {
    this.persistQueued = false;
    const items = this.toPersist.filter((i) => !i.done);
    this.toPersist = [];
    if (!items.length || !this.storage) return;
    try {
      await this.storage.put(items);
      for (const item of items) item.persisted = true;
      const late = items.filter((i) => i.done); // acknowledged while being written
      if (late.length) await this._remove(late.map((i) => i.key));
    } catch (err) {
      this._error(err);
    }
  }

  async _remove(keys) {
    if (!keys.length || !this.storage) return;
    try {
      await this.storage.remove(keys);
    } catch (err) {
      this._error(err);
    }
  }

  // -- sending ----------------------------------------------------------------------------
  _unsent() {
    return this.items.length;
  }

  _schedule(delay) {
    if (this.closed) return;
    const at = Math.max(Date.now() + delay, this.retryAt);
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this._pump().catch((err) => this._error(err));
    }, Math.max(0, at - Date.now()));
  }

  async _pump() {
    if (this.inflight || !this.storageReady) return;
    const batch = this.items.slice(0, this.limit);
    if (!batch.length) {
      this._settle(true);
      return;
    }
    this.inflight = true;
    let outcome;
    try {
      outcome = await this._post(batch);
    } catch (err) {
      outcome = { retry: true, error: err };
    } finally {
      this.inflight = false;
    }
    if (outcome.ok || outcome.drop) {
      const rejected = outcome.ok ? outcome.rejected : batch.map((_, index) => ({ index, errors: [] }));
      this._done(batch, rejected, outcome.drop);
      this.attempt = 0;
      this.retryAt = 0;
      this.limit = this.o.batchSize;
      this._schedule(this.items.length >= this.limit ? 0 : this.o.flushIntervalMs);
    } else if (outcome.split && batch.length > 1) {
      this.limit = Math.ceil(batch.length / 2);
      this._schedule(0);
    } else if (outcome.split) {
      this._done(batch, [{ index: 0, errors: [] }], "too_large");
      this._schedule(0);
    } else {
      this.attempt++;
      this.counts.retries++;
      if (outcome.error) this._error(outcome.error);
      const cap = Math.min(this.o.maxBackoffMs, this.o.minBackoffMs * 2 ** (this.attempt - 1));
      const wait = Math.max(cap / 2 + (Math.random() * cap) / 2, outcome.retryAfterMs || 0); // equal jitter
      this.retryAt = Date.now() + wait;
      this._schedule(wait);
    }
  }

  _done(batch, rejected, reason) {
    const bad = new Set(rejected.map((r) => r.index));
    for (const item of batch) item.done = true;
    const finished = new Set(batch);
    this.items = this.items.filter((i) => !finished.has(i));
    if (reason) this._drop(typeof reason === "string" ? reason : "refused", batch.length);
    else {
      this.counts.accepted += batch.length - bad.size;
      this.counts.rejected += bad.size;
      if (rejected.length) this.lastRejected = rejected.map((r) => ({ ...r, record: batch[r.index]?.record }));
    }
    this._remove(batch.filter((i) => i.persisted).map((i) => i.key));
    if (!this.items.length) this._settle(true);
  }

  async _post(batch) {
    const body = JSON.stringify(batch.map((i) => i.record));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.o.requestTimeoutMs);
    try {
      const res = await fetch(`${this.o.url}/api/v1/logs/batch`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.o.token}` },
        body,
        signal: abort.signal,
      });
      this.counts.sent += batch.length;
      if (res.status === 202) {
        const answer = await res.json();
        return { ok: true, rejected: Array.isArray(answer.rejected) ? answer.rejected : [] };
      }
      if (res.status === 413) return { split: true };
      if (res.status === 400 || res.status === 422) return { drop: true, error: new Error(`bridge refused a batch: ${res.status}`) };
      const retryAfter = Number(res.headers.get("Retry-After"));
      return { retry: true, retryAfterMs: retryAfter > 0 ? retryAfter * 1000 : 0, error: new Error(`bridge answered ${res.status}`) };
    } finally {
      clearTimeout(timer);
    }
  }

  // -- page lifecycle ---------------------------------------------------------------------
  _listen() {
    if (typeof addEventListener !== "function") return;
    const hide = () => this._onHide();
    addEventListener("pagehide", hide);
    addEventListener("visibilitychange", () => (document.visibilityState === "hidden" ? hide() : this._onShow()));
    addEventListener("pageshow", () => this._onShow());
  }

  _onHide() {
    try {
      const unsent = this.items.filter((i) => !i.done);
      if (!unsent.length) return;
      stash(this.o.storageName, this.producerId, unsent.filter((i) => !i.persisted).map(({ key, record }) => ({ key, record })));
      if (!this.o.beacon || typeof navigator === "undefined" || !navigator.sendBeacon) return;
      const url = `${this.o.url}/api/v1/logs/beacon?token=${encodeURIComponent(this.o.token)}`;
      let chunk = [];
      let size = 2;
      const send = () => {
        const ok = chunk.length && navigator.sendBeacon(url, new Blob([`[${chunk.join(",")}]`], { type: "text/plain;charset=UTF-8" }));
        if (ok) this.counts.beacons++;
        chunk = [];
        size = 2;
        return ok;
      };
      for (const item of unsent) {
        const text = JSON.stringify(item.record);
        if (chunk.length && (size + text.length > BEACON_BYTES || chunk.length >= this.o.batchSize) && !send()) return;
        chunk.push(text);
        size += text.length + 1;
      }
      send();
    } catch (err) {
      this._error(err);
    }
  }

  _onShow() {
    try {
      dropStash(this.o.storageName, this.producerId); // still alive: storage has (or will have) them
      this.toPersist.push(...this.items.filter((i) => !i.persisted && !i.done));
      this._persistSoon();
    } catch (err) {
      this._error(err);
    }
  }

  // -- the rest ---------------------------------------------------------------------------
  flush(timeoutMs = 5000) {
    return new Promise((resolve) => {
      try {
        if (!this.items.length && this.storageReady) return resolve(true);
        const waiter = { resolve, timer: setTimeout(() => this._release(waiter, false), timeoutMs) };
        this.waiters.push(waiter);
        this._schedule(0);
      } catch (err) {
        this._error(err);
        resolve(false);
      }
    });
  }

  _release(waiter, value) {
    clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(value);
  }

  _settle(value) {
    for (const waiter of [...this.waiters]) this._release(waiter, value);
  }

  stats() {
    const dropped = { ...this.dropped };
    return {
      producerId: this.producerId,
      storage: this.storage ? this.storage.kind : "opening",
      pending: this.items.length,
      persisted: this.items.filter((i) => i.persisted).length,
      ...this.counts,
      dropped,
      droppedTotal: Object.values(dropped).reduce((a, b) => a + b, 0),
      lastError: this.lastError,
      lastRejected: this.lastRejected,
    };
  }

  close() {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this._settle(false);
  }

  _drop(reason, n = 1) {
    this.dropped[reason] = (this.dropped[reason] || 0) + n;
  }

  _error(err) {
    try {
      this.lastError = String((err && err.message) || err);
      if (typeof this.o.onError === "function") this.o.onError(err);
    } catch {
      // an onError that throws is ignored too
    }
  }
}

function makeLogger(client, context) {
  const at = (level) => (message, fields) => client.log(level, message, context, fields);
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warning"),
    warning: at("warning"),
    error: at("error"),
    critical: at("critical"),
    fatal: at("critical"),
    child: (fields) => makeLogger(client, { ...context, ...(fields || {}) }),
    flush: (timeoutMs) => client.flush(timeoutMs),
    stats: () => client.stats(),
    close: () => client.close(),
    ready: client.ready.then(() => true),
  };
}

/** A logger sending to the aico frontend bridge; see aico-log.d.ts for every option. */
export function createLogger(options = {}) {
  return makeLogger(new Client(options), {});
}
