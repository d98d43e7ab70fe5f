// The first look shows data. A store loaded from an old export (the shipped
// sample, a Capture backfill) has nothing in the default "Last 24 hours":
// then the page opens on the 24 hours up to the newest event, and an empty
// result always says where the stored events are, with a button to show
// them. It uses app.js's state and api(), and alerts.js's time helpers.
"use strict";

const SECOND = 1000;

// explainEmpty runs when search my found nothing. It asks the store for its
// count and time span (/api/stats) and either moves a default range to the
// newest events or fills the empty state's hint.
async function explainEmpty(my) {
  let st;
  try { st = (await api("/api/stats")).stats; } catch (e) { return; } // the hint is optional
  if (my !== seq || !st || !st.events || !st.newest) return;
  const oldest = parseTime(st.oldest), newest = parseTime(st.newest);
  const r = timeRange();
  const from = Date.parse(r.from), to = Date.parse(r.to);
  // [from, to) is half open: the range ends one second after the newest
  // event, on a whole second so that the pickers show it exactly.
  const end = Math.floor(newest / SECOND) * SECOND + SECOND;
  if (!state.rangeChosen && state.range !== "custom" && !state.ids.length && newest < from) {
    const width = RANGES[state.range];
    const label = $("#range").selectedOptions[0] ? $("#range").selectedOptions[0].textContent : state.range;
    state.range = "custom";
    state.rangeChosen = true;
    state.from = new Date(end - width).toISOString();
    state.to = new Date(end).toISOString();
    const note = $("#range-note");
    note.textContent = "Nothing in the " + label.toLowerCase() + ": showing the " + label.replace(/^Last /, "").toLowerCase() +
      " up to the newest event (" + shortTime(st.newest) + " UTC). The store holds " + countText(st.events) + ".";
    note.hidden = false;
    writeURL(false);
    syncForm();
    run();
    return;
  }
  if (oldest >= from && newest < to) return; // the range holds them all: the query matches none
  $("#empty-where-text").textContent = countText(st.events) + " stored, " +
    (st.events === 1 ? "at " + shortTime(st.newest) : "from " + shortTime(st.oldest) + " to " + shortTime(st.newest)) + " UTC —";
  const show = $("#empty-show");
  show.onclick = () => {
    state.range = "custom";
    state.from = new Date(Math.floor(oldest / SECOND) * SECOND).toISOString();
    state.to = new Date(end).toISOString();
    state.q = qInput.value.trim();
    search(true);
  };
  $("#empty-where").hidden = false;
}

function countText(n) { return n.toLocaleString() + (n === 1 ? " event" : " events"); }
