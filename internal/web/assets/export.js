// Export links: the current query and time range as NDJSON or CSV from
// GET /api/export. Without a token the browser downloads the stream
// straight to disk; with one (a link cannot send a header) the file is
// fetched with the token and handed over as a blob.
"use strict";

function exportURL(format) {
  const extra = format === "csv" ? { format: "csv" } : {};
  return "/api/export?" + params(extra);
}

async function exportClick(e, format) {
  const a = e.currentTarget;
  a.href = exportURL(format); // the range "last 24 hours" ends now
  const token = sessionStorage.getItem("token");
  if (!token) return; // the link downloads
  e.preventDefault();
  try {
    const resp = await fetch(a.href, { headers: { Authorization: "Bearer " + token } });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      throw new Error(body.error || resp.statusText);
    }
    const name = (/filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "") || [])[1] || "events." + format;
    const url = URL.createObjectURL(await resp.blob());
    const tmp = document.createElement("a");
    tmp.href = url; tmp.download = name;
    document.body.appendChild(tmp); tmp.click(); tmp.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    setError(err);
  }
}

const exportLinks = [["#export-ndjson", "ndjson"], ["#export-csv", "csv"]];

// updateExportLinks points the links at the search just run (app.js calls
// it from run), so that copying a link gives the search too.
function updateExportLinks() {
  for (const [id, format] of exportLinks) document.querySelector(id).href = exportURL(format);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const [id, format] of exportLinks) {
    document.querySelector(id).addEventListener("click", (e) => exportClick(e, format));
  }
});
