// Events page (see app.js for the state and the wiring): the event detail drawer and the copy buttons.
// Plain JavaScript sharing app.js's globals, loaded after it.

// ---------- detail drawer ----------

function flatten(obj, prefix, out) {
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k], name = prefix ? prefix + "." + k : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v, name, out);
    else out.push([name, v]);
  }
  return out;
}

async function openEvent(id, tr) {
  document.querySelectorAll("#results tr.selected").forEach((r) => r.classList.remove("selected"));
  if (tr) tr.classList.add("selected");
  $("#drawer").hidden = false;
  $("#drawer-title").textContent = "Event " + id + " · loading…";
  try {
    current = await api("/api/events/" + id);
  } catch (e) { $("#drawer-title").textContent = "Event " + id + ": " + e.message; return; }
  $("#drawer-title").textContent = (fieldValue(current.doc, "event.dataset") || "event") + " · " + current["@timestamp"];
  const body = $("#detail tbody");
  body.textContent = "";
  for (const [k, v] of flatten(current.doc, "", [])) {
    if (k === "message") continue;
    const tr = document.createElement("tr");
    tr.dataset.field = k;
    const kd = document.createElement("td"); kd.className = "k"; kd.textContent = k;
    const vd = document.createElement("td"); vd.className = "v"; vd.textContent = show(v);
    const ad = document.createElement("td"); ad.className = "a";
    const plus = document.createElement("button"); plus.type = "button"; plus.textContent = "+"; plus.title = "Filter for this value";
    const minus = document.createElement("button"); minus.type = "button"; minus.textContent = "−"; minus.title = "Filter out this value";
    const copy = document.createElement("button"); copy.type = "button"; copy.textContent = "copy"; copy.title = "Copy value";
    plus.addEventListener("click", () => addFilter(k, Array.isArray(v) ? v[0] : v, false));
    minus.addEventListener("click", () => addFilter(k, Array.isArray(v) ? v[0] : v, true));
    copy.addEventListener("click", () => copyText(show(v)));
    ad.append(plus, minus, copy);
    tr.append(kd, vd, ad);
    body.appendChild(tr);
  }
  let raw = current.message || "";
  try { raw = JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { /* not JSON: show as is */ }
  $("#drawer-raw").textContent = raw || "(no raw record)";
}

function closeDrawer() {
  $("#drawer").hidden = true;
  document.querySelectorAll("#results tr.selected").forEach((r) => r.classList.remove("selected"));
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); toast("Copied"); } catch (e) {
    const ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select();
    try { document.execCommand("copy"); toast("Copied"); } catch (e2) { toast("Copy failed"); }
    ta.remove();
  }
}

function toast(msg) {
  const t = $("#toast"); t.textContent = msg; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 1200);
}

document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === b));
  $("#drawer-fields").hidden = b.dataset.tab !== "fields";
  $("#drawer-raw").hidden = b.dataset.tab !== "raw";
}));
$("#drawer-close").addEventListener("click", closeDrawer);
$("#copy-doc").addEventListener("click", () => current && copyText(JSON.stringify(current.doc, null, 2)));
$("#copy-raw").addEventListener("click", () => current && copyText(current.message || ""));
