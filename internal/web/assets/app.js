// Events page: plain JavaScript, no dependencies, works offline.
// State lives in the URL (?q=&range= or &from=&to=) so views can be shared
// and the back button works.
"use strict";

const $ = (s) => document.querySelector(s);
const RANGES = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const DEFAULT_COLUMNS = ["@timestamp", "event.dataset", "host.name", "user.name", "process.name", "process.command_line"];
const PAGE = 100;

// view is "events" or "alerts"; ids narrow the Events view to the events
// of one alert (alert, alertCount and alertHost describe it in the banner);
// rule, level and host are the Alerts view's filters.
// rangeChosen is false while the range is the default one, not asked for
// in the URL or the form: only then may the page move it to where the data
// is (firstlook.js).
const state = { view: "events", q: "", range: "24h", rangeChosen: false, from: null, to: null, ids: [], alert: "", alertCount: 0, alertHost: "", rule: "", level: "", host: "" };
let columns = loadColumns();
let fields = [];
let cursor = "";
let events = [];
let openTop = new Set();
let seq = 0; // drops answers of superseded searches
let current = null; // event shown in the drawer
let histo = { buckets: [], interval: 0, from: 0, to: 0 };

// ---------- API ----------

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem("token");
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { headers });
  // Most errors are JSON; the alerts API answers its errors in plain text.
  const text = await resp.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = { error: text.trim() || "unreadable answer from the server (" + resp.status + ")" }; }
  if (resp.status === 401) {
    const t = window.prompt("This server needs an access token:");
    if (t) { sessionStorage.setItem("token", t.trim()); return api(path); }
  }
  if (!resp.ok) { const err = new Error(body.error || resp.statusText); err.body = body; err.status = resp.status; throw err; }
  return body;
}

// ---------- URL state ----------

function readURL() {
  const p = new URLSearchParams(location.search);
  state.view = p.get("view") === "alerts" ? "alerts" : "events";
  state.ids = (p.get("ids") || "").split(",").filter(Boolean);
  state.alert = p.get("alert") || "";
  state.alertCount = Number(p.get("alert_count")) || 0;
  state.alertHost = p.get("alert_host") || "";
  state.rule = p.get("rule") || "";
  state.level = p.get("level") || "";
  state.host = p.get("host") || "";
  state.q = p.get("q") || "";
  state.from = p.get("from");
  state.to = p.get("to");
  state.range = state.from ? "custom" : (p.get("range") || "24h");
  state.rangeChosen = !!(state.from || p.get("range"));
  if (!RANGES[state.range] && state.range !== "custom") state.range = "24h";
}

function writeURL(push) {
  const p = new URLSearchParams();
  if (state.view === "alerts") {
    p.set("view", "alerts");
    if (state.rule) p.set("rule", state.rule);
    if (state.level) p.set("level", state.level);
    if (state.host) p.set("host", state.host);
  } else {
    if (state.q) p.set("q", state.q);
    if (state.range === "custom") { p.set("from", state.from); p.set("to", state.to); } else p.set("range", state.range);
    if (state.ids.length) {
      p.set("ids", state.ids.join(","));
      if (state.alert) p.set("alert", state.alert);
      if (state.alertCount) p.set("alert_count", String(state.alertCount));
      if (state.alertHost) p.set("alert_host", state.alertHost);
    }
  }
  const url = "?" + p.toString();
  if (url === location.search) return;
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}

function timeRange() {
  if (state.range === "custom" && state.from && state.to) return { from: state.from, to: state.to };
  const to = Date.now();
  return { from: new Date(to - RANGES[state.range]).toISOString(), to: new Date(to).toISOString() };
}

function params(extra) {
  const r = timeRange();
  const p = new URLSearchParams({ q: state.q, from: r.from, to: r.to });
  if (state.ids.length) p.set("ids", state.ids.join(","));
  for (const k in extra || {}) p.set(k, extra[k]);
  return p.toString();
}

function syncForm() {
  $("#q").value = state.q;
  $("#range").value = state.range;
  $("#custom").hidden = state.range !== "custom";
  if (state.range === "custom") {
    $("#from").value = toLocalInput(state.from);
    $("#to").value = toLocalInput(state.to);
  }
}

function toLocalInput(iso) { return iso ? new Date(iso).toISOString().slice(0, 19) : ""; }
function fromLocalInput(v) { return v ? new Date(v + "Z").toISOString() : null; }

// ---------- search ----------

async function run() {
  const my = ++seq;
  cursor = "";
  events = [];
  setError(null);
  $("#loading").hidden = false;
  $("#more").hidden = true;
  $("#count").textContent = "…";
  $("#took").textContent = "";
  $("#empty-where").hidden = true;
  updateExportLinks(); // export.js
  // The first page comes fast from the newest events; the total comes with
  // the histogram, which counts every match anyway.
  const pageReq = api("/api/events?" + params({ limit: PAGE, count: "false" })).then((page) => {
    if (my !== seq) return;
    events = page.events;
    cursor = page.next || "";
    $("#took").textContent = "first page in " + page.took_ms + " ms";
    renderTable();
  });
  const histoReq = api("/api/histogram?" + params({ buckets: 80 })).then((h) => {
    if (my !== seq) return;
    histo = { buckets: h.buckets, interval: h.interval_ms, from: Date.parse(h.from), to: Date.parse(h.to) };
    const total = h.buckets.reduce((n, b) => n + b.count, 0);
    $("#count").textContent = total.toLocaleString() + (total === 1 ? " event" : " events");
    drawHistogram();
    if (total === 0) return explainEmpty(my);
  });
  try {
    await Promise.all([pageReq, histoReq]);
    if (my === seq) refreshTops();
  } catch (e) {
    if (my !== seq) return;
    setError(e);
    events = [];
    renderTable();
    $("#count").textContent = "—";
    $("#took").textContent = "";
    histo.buckets = [];
    drawHistogram();
  } finally {
    if (my === seq) $("#loading").hidden = true;
  }
}

async function loadMore() {
  if (!cursor) return;
  const my = seq;
  $("#more").disabled = true;
  try {
    const page = await api("/api/events?" + params({ limit: PAGE, cursor }));
    if (my !== seq) return;
    events = events.concat(page.events);
    cursor = page.next || "";
    renderTable();
  } catch (e) { setError(e); } finally { $("#more").disabled = false; }
}

function setError(e) {
  const box = $("#error");
  $("#q").classList.toggle("invalid", !!(e && e.body && e.body.position !== undefined));
  if (!e) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = e.message;
  const b = e.body || {};
  if (b.position !== undefined && state.q) {
    const c = document.createElement("span");
    c.className = "caret";
    // position is a byte offset in the UTF-8 query (the number the message
    // gives): the caret goes under the character it falls in.
    const before = new TextDecoder().decode(new TextEncoder().encode(state.q).slice(0, b.position));
    c.textContent = state.q + "\n" + " ".repeat(Math.min([...before].length, [...state.q].length)) + "^";
    box.appendChild(c);
  }
  box.hidden = false;
}

// ---------- table ----------

function fieldValue(doc, path) {
  if (path in doc) return doc[path];
  let cur = doc;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || !(part in cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function show(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function renderTable() {
  const head = $("#results thead tr");
  head.textContent = "";
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    if (columns.length > 1) {
      const x = document.createElement("button");
      x.className = "x"; x.type = "button"; x.title = "Remove column"; x.textContent = "×";
      x.addEventListener("click", (ev) => { ev.stopPropagation(); toggleColumn(c); });
      th.appendChild(x);
    }
    head.appendChild(th);
  }
  const body = $("#results tbody");
  body.textContent = "";
  for (const e of events) {
    const tr = document.createElement("tr");
    tr.dataset.id = e.id;
    for (const c of columns) {
      const td = document.createElement("td");
      const v = c === "@timestamp" ? e["@timestamp"] : fieldValue(e.doc, c);
      td.textContent = show(v);
      td.title = td.textContent;
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => openEvent(e.id, tr));
    body.appendChild(tr);
  }
  $("#empty").hidden = events.length > 0 || !$("#error").hidden;
  $("#more").hidden = !cursor;
}

function loadColumns() {
  try { const c = JSON.parse(localStorage.getItem("columns")); if (Array.isArray(c) && c.length) return c; } catch (e) { /* default */ }
  return DEFAULT_COLUMNS.slice();
}

function toggleColumn(name) {
  const i = columns.indexOf(name);
  if (i >= 0) { if (columns.length > 1) columns.splice(i, 1); } else columns.push(name);
  localStorage.setItem("columns", JSON.stringify(columns));
  renderTable();
  renderFields();
}

// ---------- fields sidebar ----------

async function loadFields() {
  try { fields = (await api("/api/fields")).fields; } catch (e) { fields = []; }
  // Typed columns (the fields analysts filter on most) first.
  fields.sort((a, b) => (b.typed - a.typed) || a.name.localeCompare(b.name));
  renderFields();
}

function renderFields() {
  const list = $("#fields");
  const filter = $("#field-filter").value.trim().toLowerCase();
  list.textContent = "";
  for (const f of fields) {
    if (filter && !f.name.toLowerCase().includes(filter)) continue;
    const li = document.createElement("li");
    li.dataset.field = f.name;
    const row = document.createElement("div");
    row.className = "fname";
    const n = document.createElement("span"); n.className = "n"; n.textContent = f.name; n.title = f.name + " (" + f.type + ")";
    const t = document.createElement("span"); t.className = "t"; t.textContent = f.typed ? "●" : ""; t.title = f.typed ? "typed column: fastest to filter" : "";
    const col = document.createElement("button");
    col.type = "button"; col.className = "col" + (columns.includes(f.name) ? " on" : ""); col.textContent = "▦";
    col.title = columns.includes(f.name) ? "Remove column" : "Add as column";
    col.addEventListener("click", (ev) => { ev.stopPropagation(); toggleColumn(f.name); });
    row.append(n, t, col);
    row.addEventListener("click", () => { if (openTop.has(f.name)) openTop.delete(f.name); else openTop.add(f.name); renderFields(); });
    li.appendChild(row);
    if (openTop.has(f.name)) { const ul = document.createElement("ul"); ul.className = "tops"; ul.textContent = "…"; li.appendChild(ul); loadTop(f.name, ul); }
    list.appendChild(li);
  }
}

function refreshTops() { if (openTop.size) renderFields(); }

async function loadTop(field, ul) {
  try {
    const r = await api("/api/fields/" + encodeURIComponent(field) + "/top?" + params({ size: 8 }));
    ul.textContent = "";
    if (!r.values.length) { ul.textContent = "no values"; return; }
    if (r.sample) { const li = document.createElement("li"); li.className = "c"; li.textContent = "in the newest " + r.sample.toLocaleString() + " matches"; ul.appendChild(li); }
    const max = r.values[0].count;
    for (const v of r.values) {
      const li = document.createElement("li");
      const wrap = document.createElement("span"); wrap.className = "v"; wrap.title = v.value;
      wrap.textContent = v.value;
      const meter = document.createElement("span"); meter.className = "meter"; meter.style.width = Math.max(2, 100 * v.count / max) + "%";
      wrap.appendChild(meter);
      const c = document.createElement("span"); c.className = "c"; c.textContent = v.count.toLocaleString();
      const plus = document.createElement("button"); plus.type = "button"; plus.textContent = "+"; plus.title = "Filter for this value";
      const minus = document.createElement("button"); minus.type = "button"; minus.textContent = "−"; minus.title = "Filter out this value";
      plus.addEventListener("click", () => addFilter(field, v.value, false));
      minus.addEventListener("click", () => addFilter(field, v.value, true));
      li.append(wrap, c, plus, minus);
      ul.appendChild(li);
    }
  } catch (e) { ul.textContent = e.message; }
}

function quote(v) { return '"' + String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'; }

function addFilter(field, value, out) {
  const term = (out ? "-" : "") + field + ":" + quote(value);
  state.q = state.q.trim() ? "(" + state.q.trim() + ") " + term : term;
  search(true);
}

// ---------- wiring ----------

function search(push) {
  state.rangeChosen = true;
  $("#range-note").hidden = true;
  writeURL(push);
  syncForm();
  run();
}

// wire connects the controls; it runs once every script of the page has
// run, since some handlers live in the files loaded after this one.
function wire() {
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    hideSuggest();
    state.q = qInput.value.trim();
    state.range = $("#range").value;
    if (state.range === "custom") {
      state.from = fromLocalInput($("#from").value);
      state.to = fromLocalInput($("#to").value);
      if (!state.from || !state.to) { setError(new Error("Set both ends of the custom range.")); return; }
    } else { state.from = state.to = null; }
    search(true);
  });
  $("#range").addEventListener("change", () => {
    const v = $("#range").value;
    if (v === "custom") {
      const r = timeRange();
      state.from = r.from; state.to = r.to; state.range = "custom";
      syncForm();
      return;
    }
    state.range = v; state.from = state.to = null;
    state.q = qInput.value.trim();
    search(true);
  });
  $("#help-btn").addEventListener("click", toggleHelp);
  $("#more").addEventListener("click", loadMore);
  $("#field-filter").addEventListener("input", renderFields);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#drawer").hidden) closeDrawer(); });
  window.addEventListener("popstate", () => { readURL(); applyView(); });
}

// alerts.js (loaded after this file) defines the views: start once both ran.
document.addEventListener("DOMContentLoaded", () => {
  wire();
  readURL();
  writeURL(false);
  loadFields();
  applyView();
});
