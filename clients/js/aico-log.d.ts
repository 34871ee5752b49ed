// Types for aico-log.js (hand-written; the module needs no build step).

export type Level = "debug" | "info" | "warning" | "error" | "critical";

/** Context of one record; everything but the message is optional. */
export interface LogFields {
  /** Dotted module name, e.g. "web.chat". Default: the logger's `module` option. */
  module?: string;
  /** The function the record is about. Default: "anonymous". */
  function?: string;
  functionName?: string;
  /** e.g. "ui/button/click". Default: the logger's `topic` option. */
  topic?: string;
  file?: string;
  line?: number;
  traceId?: string;
  sessionId?: string;
  userId?: string;
  subsystem?: string;
  environment?: string;
  /** Any JSON-serialisable object; stored as the record's `extra`. */
  extra?: Record<string, unknown>;
  /** An Error (or anything): stored as error_details { type, message, stack }. */
  error?: unknown;
}

export interface LoggerOptions {
  /** Base address of the bridge. Default "http://127.0.0.1:8771". */
  url?: string;
  /** The bridge token ($AICO_HOME/keys/bridge.token, printed by `aico bridge token`). */
  token: string;
  subsystem?: string;
  module?: string;
  topic?: string;
  environment?: string;
  /** Records below this level are not kept. Default "debug". */
  level?: Level;
  /** Records per request. Default 100. */
  batchSize?: number;
  /** How long a non-full batch waits. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Unacknowledged records kept at most (memory and storage); past it new records are dropped, counted. Default 10000. */
  maxBuffer?: number;
  /** Exponential backoff with jitter between these bounds. Defaults 500 and 30000 ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
  /** IndexedDB database name and localStorage key prefix. Default "aico-log". */
  storageName?: string;
  /** Send unsent records with navigator.sendBeacon on page hide. Default true. */
  beacon?: boolean;
  /** Told about failures (the logger itself never throws). */
  onError?: (error: unknown) => void;
}

export interface RejectedRecord {
  index: number;
  errors: { field: string; message: string }[];
  record?: Record<string, unknown>;
}

export interface LoggerStats {
  /** This page load's id: with `seq`, the stamp the store keeps one copy of. */
  producerId: string;
  storage: "indexeddb" | "localstorage" | "memory" | "opening";
  /** Records not yet acknowledged by the bridge. */
  pending: number;
  /** Of those, how many are in storage (survive a reload). */
  persisted: number;
  logged: number;
  sent: number;
  accepted: number;
  rejected: number;
  retries: number;
  beacons: number;
  truncated: number;
  /** Drops by reason: buffer_full, too_large, refused. */
  dropped: Record<string, number>;
  droppedTotal: number;
  lastError: string | null;
  lastRejected: RejectedRecord[];
}

export type LogMethod = (message: string, fields?: LogFields) => void;

export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  warning: LogMethod;
  error: LogMethod;
  critical: LogMethod;
  fatal: LogMethod;
  /** A logger whose records carry `fields` by default (module, topic, traceId, sessionId...). */
  child(fields: LogFields): Logger;
  /** Resolves true once every record so far is acknowledged, false at the timeout (default 5000 ms). */
  flush(timeoutMs?: number): Promise<boolean>;
  stats(): LoggerStats;
  /** Stops sending; unsent records stay in storage for the next page. */
  close(): void;
  /** Resolves once records stored by earlier pages are loaded. */
  ready: Promise<boolean>;
}

export function createLogger(options: LoggerOptions): Logger;
