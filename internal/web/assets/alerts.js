// Alerts view and the switch between the Events and Alerts views. It uses
// app.js's state, URL handling and api(); its filters live in the URL
// (?view=alerts&rule=&level=&host=) like the Events view's query.
"use strict";

const LEVELS = ["informational", "low", "medium", "high", "critical"];
let alertSeq = 0; // drops answers of superseded alert loads

function applyView() {
  const alerts = state.view === "alerts";
  document.title = (alerts ? "Alerts" : "Events") + " · defender-intake";
  document.querySelectorAll(".view-tab").forEach((a) => {
    const on = a.dataset.view === state.view;
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  $("#events-view").hidden = alerts;
  $("#alerts-view").hidden = !alerts;
  $("#search-form").hidden = alerts;
  if (alerts) {
    setError(null);
    $("#help").hidden = true;
    if (!$("#drawer").hidden) closeDrawer();
    $("#alert-scope").hidden = true;
    syncAlertForm();
    loadAlerts();
    return;
  }
  syncForm();
  renderScope();
  run();
}

function switchView(view) {
  if (view === state.view) return;
  state.view = view;
  writeURL(true);
  applyView();
}

// ---------- Events view narrowed to one alert ----------

function renderScope() {
  const n = state.ids.length;
  $("#alert-scope").hidden = n === 0;
  if (!n) return;
  let t = "Events of alert “" + (state.alert || "unnamed") + "”: the " + n + (n === 1 ? " event" : " events") + " it recorded";
  const partial = state.alertCount > n;
  if (partial) t += " (it counts " + state.alertCount.toLocaleString() + " matches and keeps the ids of the first " + n + ")";
  $("#alert-scope-text").textContent = t + ".";
  const link = $("#alert-scope-host");
  link.hidden = !(partial && state.alertHost);
  link.textContent = "All events of " + state.alertHost + " in this time range";
}

function clearScope(q) {
  state.ids = [];
  state.alert = ""; state.alertCount = 0; state.alertHost = "";
  state.q = q;
  renderScope();
  search(true);
}

// openAlertEvents shows the events of alert a: exactly the events whose ids
// the alert recorded (ids= matches them by the hash of the raw record),
// within the alert's first and last seen times (widened a little).
// Without ids (none recorded) the host and time range are all there is.
function openAlertEvents(a) {
  state.view = "events";
  state.q = "";
  state.ids = (a.event_ids || []).slice();
  state.alert = a.title || a.rule_title || a.rule_id;
  state.alertCount = a.count || 0;
  state.alertHost = a.host || "";
  // The alert's host (taken from host.name) is a typed column: as the
  // query it leaves only that host's raw records to hash, about 10 to 20
  // times faster (BenchmarkAlertEvents). Alerts grouped on a Defender alert
  // id can span hosts: those rely on the ids and the time range alone.
  if (a.host && !a.group_key) state.q = "host.name:" + quote(a.host);
  // The range is the alert's, widened by a twentieth of it (at least a
  // second) so that the histogram's first and last buckets show whole.
  const first = parseTime(a.first_seen), last = parseTime(a.last_seen);
  const pad = Math.max(1000, Math.round((last - first) / 20));
  state.range = "custom";
  state.from = new Date(first - pad).toISOString();
  state.to = new Date(last + pad).toISOString();
  writeURL(true);
  applyView();
}

// parseTime reads RFC 3339 with any number of fraction digits (Go writes up
// to nine).
function parseTime(iso) { return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1")); }

function shortTime(iso) { return iso ? new Date(parseTime(iso)).toISOString().replace("T", " ").slice(0, 19) : ""; }

// ---------- Alerts view ----------

function syncAlertForm() {
  $("#a-rule").value = state.rule;
  $("#a-level").value = LEVELS.includes(state.level) ? state.level : "";
  $("#a-host").value = state.host;
}

async function loadAlerts() {
  const my = ++alertSeq;
  const box = $("#alerts-error");
  box.hidden = true;
  $("#a-loading").hidden = false;
  $("#alerts-empty").hidden = true;
  const p = new URLSearchParams({ limit: "1000" });
  if (state.rule) p.set("rule", state.rule);
  if (state.level) p.set("level", state.level);
  if (state.host) p.set("host", state.host);
  try {
    const r = await api("/api/alerts?" + p.toString());
    if (my !== alertSeq) return;
    renderAlerts(r.alerts || [], r.total || 0);
  } catch (e) {
    if (my !== alertSeq) return;
    renderAlerts([], 0);
    $("#a-count").textContent = "—";
    box.textContent = e.status === 404
      ? "This server has no alerts: add a `type: detection` sink (alerts are kept in the store) to `defender-intake run`, or try `defender-intake demo`."
      : "Could not load the alerts: " + e.message;
    box.hidden = false;
    $("#alerts-empty").hidden = true;
  } finally {
    if (my === alertSeq) $("#a-loading").hidden = true;
  }
}

function renderAlerts(list, total) {
  const body = $("#alerts tbody");
  body.textContent = "";
  for (const a of list) body.appendChild(alertRow(a));
  const shown = list.length;
  $("#a-count").textContent = total > shown ? shown.toLocaleString() + " of " + total.toLocaleString() + " alerts (newest)" : total.toLocaleString() + (total === 1 ? " alert" : " alerts");
  const empty = $("#alerts-empty");
  empty.textContent = state.rule || state.level || state.host ? "No alerts match these filters." : "No alerts yet: detection has not matched any event.";
  empty.hidden = shown > 0;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  td.title = text;
  tr.appendChild(td);
  return td;
}

function alertRow(a) {
  const tr = document.createElement("tr");
  tr.dataset.id = a.id;
  tr.dataset.level = a.level;
  const lvl = document.createElement("span");
  lvl.className = "lvl lvl-" + (LEVELS.includes(a.level) ? a.level : "unknown");
  lvl.textContent = a.level || "?";
  cell(tr, "").appendChild(lvl);

  const title = cell(tr, "", "atitle");
  const t = document.createElement("div"); t.className = "t"; t.textContent = a.title || a.rule_title;
  const sub = document.createElement("div"); sub.className = "sub";
  sub.textContent = [a.rule_id, a.author ? "by " + a.author : "", a.service || ""].filter(Boolean).join(" · ");
  title.title = (a.title || "") + "\n" + sub.textContent;
  title.append(t, sub);

  const tags = cell(tr, "", "tags");
  for (const tag of a.tags || []) {
    const s = document.createElement("span"); s.className = "tag";
    const name = tag.replace(/^attack\./, "");
    s.textContent = /^t\d/.test(name) ? name.toUpperCase() : name;
    s.title = tag;
    tags.appendChild(s);
  }
  cell(tr, a.host || "");
  cell(tr, a.user || "");
  cell(tr, shortTime(a.first_seen), "mono");
  cell(tr, shortTime(a.last_seen), "mono");
  cell(tr, (a.count || 0).toLocaleString(), "num");
  const act = cell(tr, "");
  const b = document.createElement("button");
  b.type = "button"; b.className = "open-events"; b.textContent = "Events →";
  b.title = "Open the events of this alert";
  act.appendChild(b);
  tr.addEventListener("click", () => openAlertEvents(a));
  return tr;
}

// ---------- wiring ----------

document.querySelectorAll(".view-tab").forEach((a) => a.addEventListener("click", (e) => {
  e.preventDefault();
  switchView(a.dataset.view);
}));
$("#alert-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.rule = $("#a-rule").value.trim();
  state.level = $("#a-level").value;
  state.host = $("#a-host").value.trim();
  writeURL(true);
  loadAlerts();
});
$("#a-level").addEventListener("change", () => $("#alert-form").requestSubmit());
$("#a-reset").addEventListener("click", () => {
  state.rule = state.level = state.host = "";
  syncAlertForm();
  writeURL(true);
  loadAlerts();
});
$("#alert-scope-clear").addEventListener("click", () => clearScope(state.q));
$("#alert-scope-host").addEventListener("click", (e) => {
  e.preventDefault();
  clearScope("host.name:" + quote(state.alertHost));
});
