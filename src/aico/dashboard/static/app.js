// aico log dashboard: one page over the read-only API of plugin log_dashboard. No framework, no build.
//
// Everything shown that came from the store is untrusted: it only ever reaches the page as text nodes
// (textContent, never innerHTML), and control characters are drawn visibly (NUL as \0), never dropped.
"use strict";

const FILTERS = ["q", "level", "since", "until", "subsystem", "module", "topic", "function", "file",
  "trace_id", "session_id", "user_id", "origin", "grep", "utc", "archives"];
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const MAX_ROWS = 5000;          // rows kept in the list; the oldest go (load older brings them back)
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const state = {
  view: "logs", params: {}, next: null, rows: [], selected: -1, detailId: null,
  live: false, paused: false, pending: [], source: null, lastId: null, retry: null, retryDelay: 500,
  statusTimer: null, statusEvery: 2000, searchSeq: 0, histogram: null,
};

// -- text from the store ------------------------------------------------------------------------
// C0 controls, DEL, C1 controls, zero-width and bidirectional controls: each drawn as a visible mark
// (NUL as \0, the others as \xNN or <U+NNNN>), in a highlighted span titled with its code point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|\n|\t|\r/g;

function mark(ch) {
  const c = ch.codePointAt(0);
  if (c === 0) return "\\0";                                    // NUL as \0, other controls as \xNN
  if (c < 0x100) return `\\x${c.toString(16).padStart(2, "0")}`;
  return `<U+${c.toString(16).toUpperCase().padStart(4, "0")}>`;
}

/** Append ``text`` to ``el`` as text nodes, control characters as marked spans; newlines and tabs kept
 *  when ``multiline``, else shown as ↵ and ⇥. */
function putText(el, text, multiline = false) {
  const s = text == null ? "" : String(text);
  let last = 0;
  for (const m of s.matchAll(CONTROL)) {
    const ch = m[0];
    if (multiline && (ch === "\n" || ch === "\t")) continue;
    if (m.index > last) el.append(s.slice(last, m.index));
    const span = document.createElement("span");
    span.className = "ctl";
    span.textContent = ch === "\n" ? "↵" : ch === "\t" ? "⇥" : mark(ch);
    span.title = `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    el.append(span);
    last = m.index + ch.length;
  }
  if (last < s.length) el.append(s.slice(last));
  return el;
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") putText(el, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

// -- time -----------------------------------------------------------------------------------------
const pad = (n, w = 2) => String(n).padStart(w, "0");
function showTime(stamp, { date = true } = {}) {
  if (!stamp) return "";
  const micro = stamp.slice(20, 26);
  const d = new Date(stamp);
  if (isNaN(d)) return stamp;
  const utc = state.params.utc === "1";
  const parts = utc ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const t = `${pad(parts[3])}:${pad(parts[4])}:${pad(parts[5])}.${micro.slice(0, 3) || "000"}`;
  return date ? `${parts[0]}-${pad(parts[1])}-${pad(parts[2])} ${t}` : t;
}
const seconds = (a, b) => (new Date(b) - new Date(a)) / 1000 + (Number(b.slice(23, 26)) - Number(a.slice(23, 26))) / 1e6;
function duration(s) {
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(3)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
const bytes = (n) => n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB`
  : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`;
const number = (n) => n == null ? "–" : Number(n).toLocaleString("en-US");

// -- the API ----------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) { super(body.error || `HTTP ${status}`); this.status = status; this.field = body.field; }
}

let inFlight = 0;  // requests not yet answered, as <body data-busy>: tests (and styles) can wait for a settled page
async function api(path, params = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  document.body.dataset.busy = String(++inFlight);
  let res, body = {};
  try {
    res = await fetch(`/api/v1/${path}${qs.size ? "?" + qs : ""}`, { credentials: "same-origin", cache: "no-store" });
    try { body = await res.json(); } catch { body = { error: `HTTP ${res.status} (not JSON)` }; }
  } finally {
    document.body.dataset.busy = String(--inFlight);
  }
  if (res.status === 401) showLogin();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// The link of `aico dashboard url` holds a one-time login code after '#' (never sent to a server):
// traded once for the session cookie, then dropped from the address bar. (#token=, the bearer token
// itself, is taken too.)
async function login() {
  const m = /(?:^|[#&])(login|token)=([^&]+)/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, "", location.pathname + location.search);  // the code leaves the address bar
  const scheme = m[1] === "login" ? "Login" : "Bearer";
  const res = await fetch("/api/v1/session", { method: "POST", credentials: "same-origin",
    headers: { Authorization: `${scheme} ${decodeURIComponent(m[2])}` } });
  if (!res.ok) {
    let body = {};
    try { body = await res.json(); } catch { /* not JSON */ }
    showLogin(body.error);
  }
}

function showLogin(why) {
  $("login").hidden = false;
  if (why) $("login-why").textContent = why;
  stopLive();
}

function showError(err) {
  const box = $("error");
  for (const el of document.querySelectorAll("input.invalid")) el.classList.remove("invalid");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  if (err.status === 401) return;
  box.hidden = false;
  box.textContent = "";
  putText(box, err.status >= 500 || !err.status ? `The dashboard could not answer: ${err.message}` : err.message, true);
  if (err.field) {
    const input = document.querySelector(`#search [name="${CSS.escape(err.field)}"]`);
    if (input) {
      input.classList.add("invalid");
      if (input.closest("details")) input.closest("details").open = true;
    }
  }
}

// -- the URL is the view ------------------------------------------------------------------------------
function readUrl() {
  const u = new URLSearchParams(location.search);
  const params = {};
  for (const name of FILTERS) if (u.get(name)) params[name] = u.get(name);
  return { params, view: u.get("view") || "logs", trace: u.get("trace"), record: u.get("record") };
}

function writeUrl(extra = {}, push = true) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(state.params)) if (v) u.set(k, v);
  if (extra.view && extra.view !== "logs") u.set("view", extra.view);
  if (extra.trace) u.set("trace", extra.trace);
  if (extra.record) u.set("record", extra.record);
  const url = `${location.pathname}${u.size ? "?" + u : ""}`;
  if (url !== location.pathname + location.search) (push ? history.pushState : history.replaceState).call(history, null, "", url);
}

function formToParams() {
  const form = $("search");
  const params = {};
  for (const name of FILTERS) {
    const el = form.elements[name];
    if (!el) continue;
    const value = el.type === "checkbox" ? (el.checked ? "1" : "") : el.value.trim();
    if (value) params[name] = value;
  }
  return params;
}

function paramsToForm(params) {
  const form = $("search");
  for (const name of FILTERS) {
    const el = form.elements[name];
    if (!el) continue;
    if (el.type === "checkbox") el.checked = params[name] === "1";
    else el.value = params[name] || "";
  }
  fitTimes();
  const hidden = ["subsystem", "module", "topic", "function", "file", "trace_id", "session_id", "user_id", "origin", "grep", "utc"];
  if (hidden.some((n) => params[n])) $("more").open = true;
}

// -- searching -------------------------------------------------------------------------------------------
async function runSearch() {
  const seq = ++state.searchSeq;
  showError(null);
  state.rows = [];
  state.next = null;
  state.selected = -1;
  state.liveCount = 0;
  $("results").textContent = "";
  $("end").textContent = "searching…";
  $("older").hidden = true;
  const params = state.params;
  const histogram = params.archives ? Promise.resolve(null) : api("histogram", without(params, "archives"));
  histogram.catch(() => {});  // its error is the search's too: shown once, below, if the search succeeds
  try {
    const page = await api("search", params);
    if (seq !== state.searchSeq) return;
    state.lastId = page.tail_after;  // a live tail goes on after what this search saw: no gap, no repeat
    appendRows(page.records, false);
    state.next = page.next;
    footer(page);
  } catch (err) {
    if (seq !== state.searchSeq) return;
    $("end").textContent = "";
    showError(err);
    drawHistogram(null);
    return;
  }
  try {
    const hist = await histogram;
    if (seq === state.searchSeq) drawHistogram(hist);
  } catch (err) {
    if (seq === state.searchSeq) { drawHistogram(null); showError(err); }
  }
  if (state.live) startLive();
}

function without(obj, ...names) {
  const out = { ...obj };
  for (const n of names) delete out[n];
  return out;
}

function footer(page) {
  $("older").hidden = !state.next;
  const where = state.params.archives ? " in the archives" : "";
  $("end").textContent = state.next ? `${number(state.rows.length)} shown${where}; ${page.elapsed_ms} ms`
    : state.rows.length ? `all ${number(state.rows.length)} matches shown${where}` : `no records match${where}`;
}

async function loadOlder() {
  if (!state.next || state.loading) return;
  state.loading = true;
  const seq = state.searchSeq;
  try {
    const page = await api("search", { ...state.params, cursor: state.next });
    if (seq !== state.searchSeq) return;
    appendRows(page.records, false);
    state.next = page.next;
    footer(page);
  } catch (err) {
    showError(err);
  } finally {
    state.loading = false;
  }
}

function row(rec, fresh) {
  const li = h("li", { class: `lvl-${LEVELS.includes(rec.level) ? rec.level : "INFO"}${fresh ? " fresh" : ""}`,
    "data-id": rec.id, tabindex: -1, role: "option" },
  h("span", { class: "time mono", title: `${rec.timestamp} (UTC)` },
    h("span", { class: "day", text: showTime(rec.timestamp).slice(0, 11) }), showTime(rec.timestamp).slice(11)),
  h("span", { class: "lvl", text: rec.level }),
  h("span", { class: "where", text: `${rec.subsystem}/${rec.module}${rec.function ? ":" + rec.function : ""}` }),
  h("span", { class: "msg", text: rec.message }),
  rec.trace_id ? h("a", { class: "trace-link tr", href: `?view=trace&trace=${encodeURIComponent(rec.trace_id)}`,
    title: "Every record of this trace", text: `trace ${rec.trace_id.slice(0, 12)}` }) : h("span", { class: "tr" }));
  li._rec = rec;
  return li;
}

function appendRows(records, atTop) {
  const list = $("results");
  if (atTop) {
    const frag = document.createDocumentFragment();
    for (const rec of records.slice().reverse()) frag.append(row(rec, true));
    list.prepend(frag);
    state.rows = records.slice().reverse().concat(state.rows);
    if (state.selected >= 0) state.selected += records.length;
    while (state.rows.length > MAX_ROWS) {  // the oldest go; "load older" resumes after the last kept
      state.rows.pop();
      list.lastElementChild.remove();
      const last = state.rows[state.rows.length - 1];
      state.next = state.params.archives ? last.timestamp : (state.params.q ? String(last.id) : `${last.timestamp}~${last.id}`);
      $("older").hidden = false;
    }
  } else {
    const frag = document.createDocumentFragment();
    for (const rec of records) frag.append(row(rec, false));
    list.append(frag);
    state.rows = state.rows.concat(records);
  }
}

// -- the histogram -------------------------------------------------------------------------------------------
function drawHistogram(hist) {
  state.histogram = hist;
  const box = $("histogram");
  box.textContent = "";
  const legend = h("span", { class: "legend" });
  for (const l of LEVELS) {
    const s = h("span", { text: l.toLowerCase() });
    s.style.setProperty("--c", `var(--${l})`);
    legend.append(s);
  }
  const summary = $("summary");
  summary.textContent = "";
  const width = box.clientWidth || 800;
  const height = box.clientHeight || 110;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  box.append(svg);
  if (!hist) {
    if (state.params.archives) svgText(svg, 10, 20, "No histogram over archived days: they are read a page at a time.", "empty");
    return;
  }
  const total = hist.total;
  summary.append(h("span", { text: `${number(total)} matching record${total === 1 ? "" : "s"}${hist.partial ? " (grep: counted over the newest 200,000 rows)" : ""}` }),
    h("span", { text: `${showTime(hist.since)} → ${showTime(hist.until)}, bars of ${barWidth(hist.width_s)}` }), legend);
  const n = hist.buckets.length;
  if (!n) return;
  const top = 6, bottom = 16, plotH = height - top - bottom;
  const max = Math.max(1, ...hist.buckets.map((b) => LEVELS.reduce((s, l) => s + (b.counts[l] || 0), 0)));
  const bw = width / n;
  hist.buckets.forEach((b, i) => {
    let y = top + plotH;
    const parts = [];
    for (const l of LEVELS) {
      const c = b.counts[l] || 0;
      if (!c) continue;
      const hgt = Math.max(1, (c / max) * plotH);
      y -= hgt;
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", (i * bw + 0.5).toFixed(1));
      r.setAttribute("y", y.toFixed(1));
      r.setAttribute("width", Math.max(1, bw - 1).toFixed(1));
      r.setAttribute("height", hgt.toFixed(1));
      r.setAttribute("fill", `var(--${l})`);
      svg.append(r);
      parts.push(`${l.toLowerCase()} ${number(c)}`);
    }
    const hit = document.createElementNS(SVG, "rect");
    hit.setAttribute("x", (i * bw).toFixed(1)); hit.setAttribute("y", 0);
    hit.setAttribute("width", bw.toFixed(1)); hit.setAttribute("height", height);
    hit.setAttribute("fill", "transparent");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${showTime(b.start)}: ${parts.join(", ") || "none"}`;
    hit.append(title);
    svg.append(hit);
  });
  const ticks = Math.min(n, Math.max(2, Math.floor(width / 160)));
  for (let t = 0; t < ticks; t++) {
    const i = Math.round((t * (n - 1)) / Math.max(1, ticks - 1));
    const label = showTime(hist.buckets[i].start).slice(hist.width_s >= 86400 ? 0 : 5, hist.width_s >= 60 ? 16 : 19);
    svgText(svg, Math.min(width - 80, i * bw + 2), height - 4, label, "axis");
  }
}

function barWidth(s) {  // the widths are whole seconds, minutes, hours, days or a week
  for (const [unit, size] of [["week", 604800], ["day", 86400], ["h", 3600], ["min", 60]]) {
    if (s >= size && s % size === 0) return `${s / size} ${unit}${unit.length > 3 && s > size ? "s" : ""}`;
  }
  return `${s} s`;
}

function svgText(svg, x, y, text, cls) {
  const t = document.createElementNS(SVG, "text");
  t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("class", cls);
  t.textContent = text;
  svg.append(t);
}

// A drag across the bars narrows the search to the buckets it covers. The drag keeps the histogram
// it started on: a redraw meanwhile (a resize, the theme, a search's answer arriving) neither loses
// the drag nor changes the range it gives.
function brushHistogram() {
  const box = $("histogram");
  let drag = null;  // { hist, start, rect } while the button is down
  const bucketAt = (hist, clientX) => {
    const r = box.getBoundingClientRect();
    const i = Math.floor(((clientX - r.left) / r.width) * hist.buckets.length);
    return Math.max(0, Math.min(hist.buckets.length - 1, i));
  };
  const span = (e) => {
    const i = bucketAt(drag.hist, e.clientX);
    return [Math.min(i, drag.start), Math.max(i, drag.start)];
  };
  const move = (e) => {
    if (!drag) return;
    const [lo, hi] = span(e), bw = box.clientWidth / drag.hist.buckets.length;
    const svg = box.querySelector("svg");
    if (svg && drag.rect.parentNode !== svg) svg.append(drag.rect);  // redrawn meanwhile: shown again
    drag.rect.setAttribute("x", lo * bw);
    drag.rect.setAttribute("width", (hi - lo + 1) * bw);
  };
  box.addEventListener("mousedown", (e) => {
    const hist = state.histogram;
    if (!hist || !hist.buckets.length || e.button !== 0) return;
    e.preventDefault();
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "brush");
    rect.setAttribute("y", 0);
    rect.setAttribute("height", box.clientHeight);
    drag = { hist, start: bucketAt(hist, e.clientX), rect };
    move(e);
  });
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const hist = drag.hist, [lo, hi] = span(e);
    drag.rect.remove();
    drag = null;
    const since = hist.buckets[lo].start;
    const end = new Date(new Date(hist.buckets[hi].start).getTime() + hist.width_s * 1000);
    const until = end.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
    narrow(since, until < hist.until ? until : hist.until);
  });
}

function fitTimes() {  // an exact time (from a drag or a shared link) is shown whole
  for (const id of ["f-since", "f-until"]) $(id).classList.toggle("wide", $(id).value.length > 14);
}

function narrow(since, until) {
  $("f-since").value = since;
  $("f-until").value = until;
  fitTimes();
  submit();
}

// -- the record and the trace --------------------------------------------------------------------------
function tree(value) {
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return h("span", { class: `v-${kind}`, text: kind === "string" ? JSON.stringify(value).length > 2 ? value : '""' : String(value) });
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const ul = h("ul", { class: "tree" });
  for (const [k, v] of entries) {
    const key = h("span", { class: "k", text: Array.isArray(value) ? `[${k}]` : k });
    if (v !== null && typeof v === "object") {
      const n = Array.isArray(v) ? `[${v.length}]` : `{${Object.keys(v).length}}`;
      const d = h("details", { open: entries.length < 20 }, h("summary", {}, key, ` ${n}`), tree(v));
      ul.append(h("li", {}, d));
    } else {
      ul.append(h("li", {}, key, ": ", tree(v)));
    }
  }
  return ul;
}

async function openDetail(id, push = true) {
  const panel = $("detail");
  let rec = state.rows.find((r) => String(r.id) === String(id));
  try {
    if (!rec || !state.params.archives) rec = await api(`records/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!rec) { showError(err); return; }
  }
  state.detailId = rec.id;
  if (push) writeUrl({ record: rec.id }, false);
  panel.hidden = false;
  panel.textContent = "";
  panel.append(h("button", { type: "button", class: "close icon", title: "Close (Esc)", "aria-label": "Close", onclick: closeDetail }, "×"));
  const head = h("h3", { class: `lvl-${rec.level}` });
  head.append(h("span", { class: "lvl", text: rec.level }), " ");
  putText(head, rec.message, true);
  panel.append(head);
  const table = h("table");
  for (const [k, v] of Object.entries(rec)) {
    if (["message", "extra", "error_details"].includes(k) || v == null || v === "") continue;
    const td = h("td", { class: k === "timestamp" ? "mono" : "" });
    if (k === "trace_id") td.append(h("a", { class: "trace-link", href: `?view=trace&trace=${encodeURIComponent(v)}`, text: v }));
    else if (k === "timestamp") td.append(`${showTime(v)}  (${v})`);
    else putText(td, v, true);
    table.append(h("tr", {}, h("th", { text: k }), td));
  }
  panel.append(table);
  if (rec.error_details != null) {
    const e = rec.error_details;
    panel.append(h("h4", { text: "error" }));
    if (typeof e === "object") {
      const eh = h("div", { class: "err-head" });
      putText(eh, `${e.type || "Error"}: ${e.message ?? ""}`, true);
      panel.append(eh);
      if (e.stack) panel.append(putText(h("pre", { class: "stack" }), e.stack, true));
      const rest = without(e, "type", "message", "stack");
      if (Object.keys(rest).length) panel.append(tree(rest));
    } else {
      panel.append(putText(h("pre"), e, true));
    }
  }
  if (rec.extra != null) {
    panel.append(h("h4", { text: "extra" }), typeof rec.extra === "object" ? tree(rec.extra) : putText(h("pre"), rec.extra, true));
  }
}

function closeDetail() {
  $("detail").hidden = true;
  state.detailId = null;
  writeUrl({}, false);
  const li = $("results").children[state.selected];
  if (li) li.focus();
}

async function showTrace(traceId, push = true) {
  setView("trace");
  if (push) writeUrl({ view: "trace", trace: traceId });
  const box = $("view-trace");
  box.textContent = "";
  box.append(h("p", { class: "hint", text: "loading the trace…" }));
  let data;
  try {
    data = await api(`trace/${encodeURIComponent(traceId)}`);
  } catch (err) {
    box.textContent = "";
    showError(err);
    return;
  }
  box.textContent = "";
  const recs = data.records;
  const back = h("button", { type: "button", onclick: () => history.length > 1 ? history.back() : go("logs") }, "← back (Esc)");
  const title = h("h2");
  title.append("trace ");
  putText(title, traceId);
  box.append(back, title);
  if (!recs.length) { box.append(h("p", { text: "No records with this trace id in the live store." })); return; }
  const first = recs[0].timestamp, span = seconds(first, recs[recs.length - 1].timestamp);
  const errors = recs.filter((r) => r.level === "ERROR" || r.level === "CRITICAL").length;
  box.append(h("p", { class: "hint", text: `${recs.length} records${data.truncated ? " (the first 10,000)" : ""}, ${duration(span)}, ` +
    `origins ${data.origins.join(", ")}, ${errors} error${errors === 1 ? "" : "s"}; started ${showTime(first)}` }));
  const list = h("ol", { "aria-label": "Trace steps in time order" });
  let prev = first;
  const gaps = recs.map((r) => { const g = seconds(prev, r.timestamp); prev = r.timestamp; return g; });
  const slow = Math.max(...gaps) > 0 ? Math.max(...gaps) * 0.5 : Infinity;
  recs.forEach((r, i) => {
    const offset = seconds(first, r.timestamp);
    const li = h("li", { class: `lvl-${r.level}`, tabindex: 0, title: "Open the record", onclick: () => openTraceRecord(r) },
      h("span", { class: "offset mono", text: `+${offset.toFixed(3)} s`, title: showTime(r.timestamp) }),
      h("span", { class: `gap mono${gaps[i] >= slow && i > 0 ? " slow" : ""}`, title: "since the step before",
        text: i ? `Δ ${duration(gaps[i])}` : "start" }),
      h("span", { class: "origin", text: r.origin || "?" }),
      h("span", { class: "lvl", text: r.level }),
      h("span", { class: "where", text: `${r.subsystem}/${r.module}${r.function ? ":" + r.function : ""}` }),
      h("span", { class: "msg", text: r.message }));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") openTraceRecord(r); });
    const bar = h("span", { class: "bar" });
    const mark = h("i");
    mark.style.left = `${span ? (offset / span) * 100 : 0}%`;
    mark.style.width = `${span ? Math.max(0.3, (gaps[i + 1] || 0) / span * 100) : 100}%`;
    bar.append(mark);
    li.append(bar);
    list.append(li);
  });
  box.append(list);
  const firstRow = list.firstElementChild;
  if (firstRow) firstRow.focus();
}

async function openTraceRecord(rec) {
  writeUrl({ record: rec.id });
  await route();  // the list of the current search (run now if the page opened on the trace) and the record
}

// -- live tail ---------------------------------------------------------------------------------------------
function startLive() {
  stopLive(false);
  if (!state.live || state.params.archives) return;
  const params = without(state.params, "archives");
  if (state.lastId != null) params.after = state.lastId;
  const qs = new URLSearchParams(params);
  const source = new EventSource(`/api/v1/tail?${qs}`);
  state.source = source;
  liveState("connecting…");
  source.addEventListener("hello", (e) => {
    state.lastId = JSON.parse(e.data).after;
    state.retryDelay = 500;
    liveState(state.paused ? "paused" : "live: new records appear at the top");
  });
  source.addEventListener("ping", (e) => { state.lastId = JSON.parse(e.data).after; });
  source.addEventListener("record", (e) => {
    const rec = JSON.parse(e.data);
    state.lastId = Number(e.lastEventId);
    if (state.paused) {
      state.pending.push(rec);
      liveState(`paused: ${number(state.pending.length)} new`);
    } else {
      queueLive(rec);
    }
  });
  source.onerror = () => {
    // Reconnect ourselves (with ?after= the last id seen) whatever the browser would do: a restarting
    // backend refuses connections for a while, and a 401 or 5xx would end EventSource's own retries.
    source.close();
    if (state.source !== source) return;
    state.source = null;
    liveState("disconnected: reconnecting…");
    state.retry = setTimeout(startLive, state.retryDelay);
    state.retryDelay = Math.min(5000, state.retryDelay * 2);
  };
}

let liveBatch = [];
function queueLive(rec) {
  liveBatch.push(rec);
  if (liveBatch.length === 1) requestAnimationFrame(flushLive);
}
function flushLive() {
  const batch = liveBatch;
  liveBatch = [];
  if (batch.length) showLive(batch);
}

function showLive(records) {
  appendRows(records, true);
  state.liveCount = (state.liveCount || 0) + records.length;
  $("end").textContent = `${number(state.rows.length)} shown, ${number(state.liveCount)} of them from the live tail`;
}

function stopLive(clearState = true) {
  if (state.source) { state.source.close(); state.source = null; }
  if (state.retry) { clearTimeout(state.retry); state.retry = null; }
  if (clearState) liveState("");
}

function liveState(text) { $("live-state").textContent = text; }

function setLive(on) {
  state.live = on;
  $("live").checked = on;
  $("pause").hidden = !on;
  state.paused = false;
  $("pause").textContent = "Pause";
  if (on) {
    if (state.params.archives) { liveState("live tail follows the live store, not the archives"); return; }
    startLive();
  } else {
    stopLive();
  }
}

function togglePause() {
  if (!state.live) return;
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) {
    const pending = state.pending;
    state.pending = [];
    if (pending.length) showLive(pending);
    liveState("live: new records appear at the top");
  } else {
    liveState("paused");
  }
}

// -- status strip ----------------------------------------------------------------------------------------
async function refreshStatus() {
  const box = $("status");
  try {
    const s = await api("status");
    state.statusEvery = s.page.status_interval_ms;
    box.textContent = "";
    const c = s.consumer;
    const total = Object.keys(s.plugins).length;
    box.append(h("span", {}, h("span", { class: `dot${s.running ? " up" : ""}` }), s.running ? "backend running" : "backend not running"));
    for (const [label, v] of [["received", c.received], ["stored", c.stored], ["duplicates", c.duplicates],
      ["rejected", c.rejected]]) {
      box.append(h("span", {}, `${label} `, h("b", { text: number(v) })));
    }
    box.append(h("span", { title: "from a record's arrival at the collector to its commit" }, "lag ",
      h("b", { text: c.lag_ms == null ? "–" : `${Number(c.lag_ms).toFixed(0)} ms` })));
    box.append(h("span", {}, "store ", h("b", { text: bytes(s.store_bytes) })));
    box.append(h("span", { title: Object.entries(s.plugins).map(([n, p]) => `${n}: ${p.state}`).join("\n") },
      "plugins ", h("b", { text: `${s.plugins_up.length}/${total}` })));
  } catch (err) {
    if (err.status === 401) return;
    box.textContent = "dashboard unreachable: retrying";
  } finally {
    clearTimeout(state.statusTimer);
    state.statusTimer = setTimeout(refreshStatus, state.statusEvery);
  }
}

// -- rejects -----------------------------------------------------------------------------------------------
async function showRejects(before = null) {
  setView("rejects");
  const box = $("view-rejects");
  let data;
  try {
    data = await api("rejects", { before });
  } catch (err) {
    showError(err);
    return;
  }
  if (!before) {
    box.textContent = "";
    box.append(h("h2", { text: `Rejected payloads (${number(data.total)})` }),
      h("p", { class: "hint", text: "What reached the collector but broke the record schema, with the reason; newest first." }));
    const table = h("table", {}, h("thead", {}, h("tr", {}, ...["#", "received", "topic", "reason", "payload"].map((t) => h("th", { text: t })))),
      h("tbody", { id: "rejects-body" }));
    box.append(table, h("div", { class: "more-row", id: "rejects-more" }));
  }
  const body = $("rejects-body");
  for (const r of data.rejects) {
    const payload = h("td", { class: "payload mono" });
    const whole = number(r.payload_bytes ?? (r.payload || "").length);
    putText(payload, r.payload && r.payload.length > 2000 ? r.payload.slice(0, 2000) + ` … (${whole} bytes)`
      : r.truncated ? `${r.payload} … (the first bytes of ${whole}; SHA-256 ${r.sha256})` : r.payload);
    body.append(h("tr", {}, h("td", { text: r.id }), h("td", { class: "mono", text: showTime(r.received_at) }),
      h("td", { class: "mono", text: r.topic ?? "" }), h("td", { class: "reason", text: r.reason }), payload));
  }
  const more = $("rejects-more");
  more.textContent = "";
  if (data.next) more.append(h("button", { type: "button", onclick: () => showRejects(data.next) }, "Load older"));
  else if (!data.total) more.append(h("span", { class: "hint", text: "No rejected payloads." }));
}

// -- views, keys, start ----------------------------------------------------------------------------------
function setView(view) {
  state.view = view;
  $("view-logs").hidden = view !== "logs";
  $("view-trace").hidden = view !== "trace";
  $("view-rejects").hidden = view !== "rejects";
  $("search").hidden = view === "rejects";
  $("tab-logs").classList.toggle("active", view !== "rejects");
  $("tab-rejects").classList.toggle("active", view === "rejects");
}

function go(view) {
  writeUrl({ view });
  route();
}

async function route() {
  const u = readUrl();
  const changed = JSON.stringify(u.params) !== JSON.stringify(state.params) || !state.searched;
  state.params = u.params;
  paramsToForm(u.params);
  showError(null);
  if (u.view === "rejects") { await showRejects(); return; }
  if (u.view === "trace" && u.trace) { await showTrace(u.trace, false); return; }
  setView("logs");
  if (changed) { state.searched = true; await runSearch(); }
  if (u.record) await openDetail(u.record, false);
  else if (!$("detail").hidden) { $("detail").hidden = true; state.detailId = null; }
}

function submit() {
  state.params = formToParams();
  writeUrl({});
  state.searched = true;
  $("detail").hidden = true;
  setView("logs");
  runSearch();
}

function select(i) {
  const items = $("results").children;
  if (!items.length) return;
  i = Math.max(0, Math.min(items.length - 1, i));
  if (items[state.selected]) items[state.selected].classList.remove("selected");
  state.selected = i;
  items[i].classList.add("selected");
  items[i].focus({ preventScroll: true });
  items[i].scrollIntoView({ block: "nearest" });
  if (!$("detail").hidden) openDetail(items[i]._rec.id);
}

function onKey(e) {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === "Escape") {
    if (typing) { e.target.blur(); return; }
    if (state.view === "trace") { history.length > 1 ? history.back() : go("logs"); return; }
    if (!$("detail").hidden) { closeDetail(); return; }
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const items = $("results").children;
  switch (e.key) {
    case "/": e.preventDefault(); $("f-q").focus(); $("f-q").select(); break;
    case "j": case "ArrowDown": if (state.view === "logs") { e.preventDefault(); select(state.selected + 1); if (state.selected >= items.length - 3) loadOlder(); } break;
    case "k": case "ArrowUp": if (state.view === "logs") { e.preventDefault(); select(state.selected - 1); } break;
    case "g": select(0); break;
    case "G": select(items.length - 1); loadOlder(); break;
    case "Enter": if (state.view === "logs" && items[state.selected]) openDetail(items[state.selected]._rec.id); break;
    case "t": { const rec = items[state.selected] && items[state.selected]._rec; if (rec && rec.trace_id) showTrace(rec.trace_id); break; }
    case "L": setLive(!state.live); break;
    case "p": togglePause(); break;
    case "T": toggleTheme(); break;
    case "?": $("help").showModal(); break;
    default: break;
  }
}

function toggleTheme() {
  const root = document.documentElement;
  const dark = root.dataset.theme !== "dark";
  root.dataset.theme = dark ? "dark" : "light";
  try { localStorage.setItem("aico-theme", root.dataset.theme); } catch { /* private mode */ }
  if (state.histogram) drawHistogram(state.histogram);
}

function initTheme() {
  let theme = null;
  try { theme = localStorage.getItem("aico-theme"); } catch { /* private mode */ }
  document.documentElement.dataset.theme = theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

async function main() {
  initTheme();
  await login();
  $("search").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  $("reset").addEventListener("click", () => { paramsToForm({}); submit(); });
  $("older").addEventListener("click", loadOlder);
  $("live").addEventListener("change", (e) => setLive(e.target.checked));
  $("pause").addEventListener("click", togglePause);
  $("theme").addEventListener("click", toggleTheme);
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("f-archives").addEventListener("change", submit);
  for (const a of document.querySelectorAll(".tabs a")) {
    a.addEventListener("click", (e) => { e.preventDefault(); go(a.dataset.view); });
  }
  $("results").addEventListener("click", (e) => {
    const link = e.target.closest("a.trace-link");
    const li = e.target.closest("li");
    if (link) { e.preventDefault(); showTrace(li._rec.trace_id); return; }
    if (li) { select([...$("results").children].indexOf(li)); openDetail(li._rec.id); }
  });
  $("detail").addEventListener("click", (e) => {
    const link = e.target.closest("a.trace-link");
    if (link) { e.preventDefault(); showTrace(new URLSearchParams(link.search).get("trace")); }
  });
  $("results").addEventListener("focus", () => { if (state.selected < 0) select(0); });
  document.addEventListener("keydown", onKey);
  window.addEventListener("popstate", route);
  window.addEventListener("resize", () => { if (state.histogram) drawHistogram(state.histogram); });
  new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) loadOlder(); })
    .observe($("older"));
  brushHistogram();
  refreshStatus();
  await route();
}

main();
