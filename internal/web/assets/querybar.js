// Events page (see app.js for the state and the wiring): autocompletion of field names and the syntax help of the query bar.
// Plain JavaScript sharing app.js's globals, loaded after it.

// ---------- query bar: autocompletion of field names ----------

const qInput = $("#q");
const sug = $("#suggest");
// sugActive is the suggestion Tab accepts; sugChosen is set once the user
// picks one with the arrow keys, and only then does Enter accept it:
// otherwise Enter searches the text as typed (typing `file` then Enter
// must search for file, not turn the query into `file.hash.sha256:`).
let sugItems = [], sugActive = -1, sugChosen = false;

function currentWord() {
  const pos = qInput.selectionStart, text = qInput.value;
  let start = pos;
  while (start > 0 && /[A-Za-z0-9_@.\-]/.test(text[start - 1])) start--;
  if (text[start] === "-") start++;
  return { start, end: pos, word: text.slice(start, pos) };
}

function updateSuggest() {
  const { word } = currentWord();
  const text = qInput.value, pos = qInput.selectionStart;
  if (!word || text[pos] === ":" || /:\S*$/.test(text.slice(0, pos))) { hideSuggest(); return; }
  const w = word.toLowerCase();
  sugItems = fields.filter((f) => f.name.toLowerCase().includes(w) && f.name !== word)
    .sort((a, b) => (b.name.toLowerCase().startsWith(w) - a.name.toLowerCase().startsWith(w)) || (b.typed - a.typed) || a.name.localeCompare(b.name))
    .slice(0, 12);
  if ("_exists_".startsWith(w)) sugItems.unshift({ name: "_exists_", type: "operator" });
  if (!sugItems.length) { hideSuggest(); return; }
  sugActive = 0;
  sugChosen = false;
  sug.textContent = "";
  sugItems.forEach((f, i) => {
    const li = document.createElement("li");
    const n = document.createElement("span"); n.textContent = f.name;
    const t = document.createElement("span"); t.className = "type"; t.textContent = f.type;
    li.append(n, t);
    li.classList.toggle("active", i === 0);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(i); });
    sug.appendChild(li);
  });
  sug.hidden = false;
}

function hideSuggest() { sug.hidden = true; sugItems = []; sugActive = -1; sugChosen = false; }

function accept(i) {
  const f = sugItems[i];
  if (!f) return;
  const { start, end } = currentWord();
  const v = qInput.value;
  qInput.value = v.slice(0, start) + f.name + ":" + v.slice(end);
  const caret = start + f.name.length + 1;
  qInput.setSelectionRange(caret, caret);
  hideSuggest();
  qInput.focus();
}

qInput.addEventListener("input", updateSuggest);
qInput.addEventListener("blur", () => setTimeout(hideSuggest, 100));
qInput.addEventListener("keydown", (e) => {
  if (!sug.hidden && sugItems.length) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      sugActive = (sugActive + (e.key === "ArrowDown" ? 1 : sugItems.length - 1)) % sugItems.length;
      sugChosen = true;
      [...sug.children].forEach((li, i) => li.classList.toggle("active", i === sugActive));
      return;
    }
    if (e.key === "Tab" || (e.key === "Enter" && sugChosen && sugActive >= 0 && currentWord().word)) { e.preventDefault(); accept(sugActive); return; }
    // Enter otherwise submits the form (its handler hides the list).
    if (e.key === "Escape") { hideSuggest(); return; }
  }
  if (e.key === "?" && qInput.value === "") { e.preventDefault(); toggleHelp(); }
});

function toggleHelp() {
  const h = $("#help");
  h.hidden = !h.hidden;
  $("#help-btn").setAttribute("aria-expanded", String(!h.hidden));
}
