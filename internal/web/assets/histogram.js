// Events page (see app.js for the state and the wiring): the histogram, drawn on a canvas, with click-drag to zoom.
// Plain JavaScript sharing app.js's globals, loaded after it.

// ---------- histogram ----------

const canvas = $("#histogram");
let drag = null;

function drawHistogram() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = 110;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const b = histo.buckets;
  const left = 40, bottom = 18, plotW = w - left - 4, plotH = h - bottom - 6;
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = "#6b7385";
  if (!b.length) { g.fillText("no data", left + 4, 20); return; }
  const max = Math.max(1, ...b.map((x) => x.count));
  g.strokeStyle = "#e1e4ea";
  g.beginPath(); g.moveTo(left, 6 + plotH + 0.5); g.lineTo(left + plotW, 6 + plotH + 0.5); g.stroke();
  g.fillText(max.toLocaleString(), 2, 14);
  g.fillText("0", 2, 6 + plotH);
  const span = histo.to - histo.from;
  const x = (t) => left + plotW * (t - histo.from) / span;
  g.fillStyle = "#4a7fe0";
  for (const k of b) {
    const t = Date.parse(k.start);
    const x0 = Math.max(left, x(t)), x1 = Math.min(left + plotW, x(Date.parse(k.end)));
    const bh = plotH * k.count / max;
    if (k.count > 0) g.fillRect(x0 + 0.5, 6 + plotH - bh, Math.max(1, x1 - x0 - 1), bh);
  }
  g.fillStyle = "#6b7385";
  const ticks = Math.max(2, Math.floor(plotW / 140));
  for (let i = 0; i <= ticks; i++) {
    const t = histo.from + span * i / ticks;
    const label = new Date(t).toISOString().replace("T", " ").slice(span > 2 * 86400e3 ? 5 : 11, 16);
    const tx = Math.min(left + plotW - g.measureText(label).width, Math.max(left, x(t) - 14));
    g.fillText(label, tx, h - 4);
  }
  if (drag) {
    g.fillStyle = "rgba(47,111,222,.18)";
    g.fillRect(Math.min(drag.x0, drag.x1), 6, Math.abs(drag.x1 - drag.x0), plotH);
  }
}

function canvasTime(clientX) {
  const r = canvas.getBoundingClientRect();
  const left = 40, plotW = r.width - left - 4;
  const f = Math.min(1, Math.max(0, (clientX - r.left - left) / plotW));
  return histo.from + f * (histo.to - histo.from);
}

canvas.addEventListener("mousedown", (e) => {
  if (!histo.buckets.length) return;
  const x = e.clientX - canvas.getBoundingClientRect().left;
  drag = { x0: x, x1: x, t0: canvasTime(e.clientX), t1: canvasTime(e.clientX) };
});
window.addEventListener("mousemove", (e) => {
  const tip = $("#histo-tip");
  if (drag) {
    drag.x1 = e.clientX - canvas.getBoundingClientRect().left;
    drag.t1 = canvasTime(e.clientX);
    drawHistogram();
  }
  const r = canvas.getBoundingClientRect();
  if (e.clientY < r.top || e.clientY > r.bottom || e.clientX < r.left || e.clientX > r.right || !histo.buckets.length) { tip.hidden = true; return; }
  const t = canvasTime(e.clientX);
  const k = histo.buckets.find((b) => t >= Date.parse(b.start) && t < Date.parse(b.end));
  if (!k) { tip.hidden = true; return; }
  tip.textContent = new Date(Date.parse(k.start)).toISOString().replace("T", " ").slice(0, 19) + " UTC · " + k.count.toLocaleString();
  tip.style.left = Math.min(r.width - 200, e.clientX - r.left + 8) + "px";
  tip.style.top = "4px";
  tip.hidden = false;
});
window.addEventListener("mouseup", () => {
  if (!drag) return;
  const d = drag; drag = null;
  if (Math.abs(d.x1 - d.x0) < 4) { drawHistogram(); return; }
  state.range = "custom";
  state.from = new Date(Math.min(d.t0, d.t1)).toISOString();
  state.to = new Date(Math.max(d.t0, d.t1)).toISOString();
  search(true);
});
window.addEventListener("resize", drawHistogram);
