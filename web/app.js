// The imagen web UI: login, single image (form from /api/v1/operations,
// SSE progress, before/after), batch queue, history and the admin view.
import { ApiError, getJson, sendJson, submitJob, cancelJob, watchJob, newIdempotencyKey, resultFileName, extensionFor } from "./api.js";
import { renderParams, readParams, clearErrors, showParamError } from "./form.js";

const $ = (id) => document.getElementById(id);
const state = { ops: [], limits: null, key: null, file: null, fileUrl: "", job: null, stopWatch: null, busy: false };

// ---- views -----------------------------------------------------------------
function show(view) {
  if (!state.key) view = "login";
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${view}`;
  for (const t of document.querySelectorAll(".tab")) {
    if (t.dataset.view === view) t.setAttribute("aria-current", "page");
    else t.removeAttribute("aria-current");
  }
  if (view === "history") loadHistory(true);
  if (view === "admin") loadAdmin();
}
function route() {
  const v = location.hash.replace(/^#/, "") || "single";
  show(["single", "batch", "history", "admin"].includes(v) ? v : "single");
}
for (const t of document.querySelectorAll(".tab")) t.addEventListener("click", () => { location.hash = t.dataset.view; });
window.addEventListener("hashchange", route);

// ---- login -------------------------------------------------------------------
function loggedIn(session) {
  state.key = session.key;
  state.limits = session.limits || state.limits;
  $("who").textContent = `${session.key.name || session.key.id}${session.key.admin ? " (admin)" : ""}`;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  $("tab-admin").hidden = !session.key.admin;
  route();
}
function loggedOut(message) {
  state.key = null;
  $("who").textContent = "";
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  show("login");
  $("api-key").focus();
}
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  const key = $("api-key").value.trim();
  if (!key) { $("login-error").textContent = "Paste an API key."; $("api-key").setAttribute("aria-invalid", "true"); return; }
  try {
    await sendJson("POST", "/api/v1/session", { api_key: key });
    $("api-key").value = "";
    $("api-key").removeAttribute("aria-invalid");
    loggedIn(await getJson("/api/v1/session"));
  } catch (err) {
    $("api-key").setAttribute("aria-invalid", "true");
    $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", async () => {
  try { await sendJson("DELETE", "/api/v1/session"); } catch { /* logged out anyway */ }
  loggedOut("Logged out.");
});
// Any 401 from the API means the session is gone.
function handleAuth(err) {
  if (err instanceof ApiError && err.status === 401) { loggedOut(err.message); return true; }
  return false;
}

// ---- single image: input -------------------------------------------------------
function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}
async function imageSize(file) {
  const bmp = await createImageBitmap(file);
  const size = { width: bmp.width, height: bmp.height };
  bmp.close();
  return size;
}
// Checks the type, byte size and pixel count against the server's limits.
async function checkFile(file) {
  const l = state.limits || {};
  const formats = (l.formats || ["jpeg", "png", "webp"]).map((f) => `image/${f}`);
  if (!formats.includes(file.type)) return `${file.name}: ${file.type || "unknown type"} is not accepted (${formats.join(", ")})`;
  if (l.max_upload_bytes && file.size > l.max_upload_bytes) {
    return `${file.name}: ${formatBytes(file.size)} is over the upload limit of ${formatBytes(l.max_upload_bytes)}`;
  }
  let s;
  try { s = await imageSize(file); } catch { return `${file.name}: the browser cannot decode this image`; }
  if (l.max_pixels && s.width * s.height > l.max_pixels) {
    return `${file.name}: ${s.width}×${s.height} is over the limit of ${l.max_pixels} pixels`;
  }
  if (l.max_side && Math.max(s.width, s.height) > l.max_side) return `${file.name}: a side is over ${l.max_side} pixels`;
  return { size: s };
}
async function setFile(file) {
  $("file-error").textContent = "";
  $("file-info").textContent = "";
  state.file = null;
  if (!file) return;
  const r = await checkFile(file);
  if (typeof r === "string") { $("file-error").textContent = r; $("file").setAttribute("aria-invalid", "true"); return; }
  $("file").removeAttribute("aria-invalid");
  state.file = file;
  if (state.fileUrl) URL.revokeObjectURL(state.fileUrl);
  state.fileUrl = URL.createObjectURL(file);
  $("file-info").textContent = `${file.name || "pasted image"}: ${r.size.width}×${r.size.height}, ${formatBytes(file.size)}, ${file.type}`;
}
// The check of the latest chosen file; a submit waits for it.
let fileReady = Promise.resolve();
const chooseFile = (f) => { fileReady = setFile(f); };
$("file").addEventListener("change", () => chooseFile($("file").files[0]));
const drop = $("drop");
for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault();
  const f = e.dataTransfer && e.dataTransfer.files[0];
  if (f && !$("view-single").hidden) chooseFile(f);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.kind === "file" && i.type.startsWith("image/"));
  if (item && !$("view-single").hidden) chooseFile(item.getAsFile());
});

// ---- single image: operation and parameters -----------------------------------
function currentOp() { return state.ops.find((o) => o.name === $("op").value); }
function renderOp() {
  const op = currentOp();
  if (!op) return;
  $("op-summary").textContent = op.summary || "";
  $("run").textContent = "Run";
  renderParams($("params"), op);
}
async function loadOps() {
  const { operations } = await getJson("/api/v1/operations");
  state.ops = operations;
  $("op").replaceChildren(...operations.map((o) => new Option(o.name, o.name)));
  renderOp();
}
$("op").addEventListener("change", renderOp);

function curlFor(op, params, idem) {
  const q = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
  const parts = [`curl -sS -H "Authorization: Bearer $IMAGEN_KEY"`, `-H ${q("Idempotency-Key: " + idem)}`];
  for (const [k, v] of Object.entries(params)) parts.push(`-F ${q(`${k}=${v}`)}`);
  parts.push(`-F ${q(`image=@${state.file ? state.file.name || "image.png" : "image.png"}`)}`);
  parts.push(q(location.origin + op.route));
  return parts.join(" \\\n  ");
}
$("copy-curl").addEventListener("click", async () => {
  const op = currentOp();
  if (!op) return;
  const text = curlFor(op, readParams($("params")), newIdempotencyKey());
  $("curl").textContent = text;
  $("curl").hidden = false;
  try { await navigator.clipboard.writeText(text); $("status").textContent = "curl command copied."; } catch { /* shown */ }
});

// ---- single image: run, progress, cancel -------------------------------------------
function setProgress(data) {
  const pct = Math.round((data.progress || 0) * 100);
  $("progress").value = data.status === "succeeded" ? 100 : pct;
  const msg = data.error ? `${data.status}: ${data.error.message}` : data.status === "running" ? `running ${pct} %` : data.status;
  $("status").textContent = msg;
}
function showResult(job) {
  const url = job.result.url;
  $("before").src = state.fileUrl;
  $("side-before").src = state.fileUrl;
  $("after").src = url;
  $("side-after").src = url;
  $("download").href = url;
  $("download").download = resultFileName(job);
  $("download").textContent = `Download result (${resultFileName(job)})`;
  $("result-info").textContent = `${job.operation} · ${job.result.content_type}`;
  $("result").hidden = false;
  // The form keeps the file, operation and values: edit one and run again.
  $("run").textContent = "Run again";
}
$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (state.busy) return;  // no double submit
  state.busy = true;
  $("run").disabled = true;
  clearErrors($("job-form"));
  $("status").textContent = "submitting";
  $("progress").value = 0;
  const op = currentOp();
  await fileReady;
  if (!state.file) {
    $("file-error").textContent = "Choose an image first.";
    $("file").focus();
    $("status").textContent = "";
    state.busy = false;
    $("run").disabled = false;
    return;
  }
  $("result").hidden = true;
  const params = readParams($("params"));
  const idem = newIdempotencyKey();
  $("curl").textContent = curlFor(op, params, idem);
  try {
    const job = await submitJob(op.route, state.file, params, idem);
    state.job = job;
    $("job").hidden = false;
    $("cancel").hidden = false;
    $("cancel").disabled = false;
    setProgress(job);
    await new Promise((resolve) => {
      state.stopWatch = watchJob(job.job_id, (data, done) => {
        setProgress(data);
        if (done) resolve();
      }, resolve);
    });
    const final = await getJson(`/api/v1/jobs/${job.job_id}`);
    state.job = final;
    setProgress(final);
    if (final.status === "succeeded") showResult(final);
  } catch (err) {
    $("status").textContent = "";
    if (!handleAuth(err)) {
      if (!(err instanceof ApiError && err.param && showParamError($("params"), err.param, err.message))) {
        $("submit-error").textContent = err.message;
      }
    }
  } finally {
    state.busy = false;
    $("run").disabled = false;
    $("cancel").hidden = true;
  }
});
// Ctrl+Enter (Cmd+Enter) runs the form from any of its fields.
$("job-form").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("job-form").requestSubmit(); }
});
$("cancel").addEventListener("click", async () => {
  if (!state.job) return;
  $("cancel").disabled = true;
  try { await cancelJob(state.job.job_id); $("status").textContent = "cancel requested"; } catch (err) {
    if (!handleAuth(err)) $("submit-error").textContent = err.message;
  }
});

// ---- result views ---------------------------------------------------------------
function setCompare() {
  const v = Number($("compare-range").value);
  $("compare").style.setProperty("--pos", `${v}%`);
  $("compare-range").setAttribute("aria-valuetext", `${v} % original`);
}
$("compare-range").addEventListener("input", setCompare);
// Zoom: fit (the default), 1× (one image pixel per CSS pixel) or 2×; the
// box scrolls to pan. Radios (arrow keys), or + / − / 0 on the image box.
const ZOOMS = ["fit", "1", "2"];
function applyZoom() {
  const z = document.querySelector('input[name="zoom"]:checked').value;
  for (const img of [$("after"), $("side-before"), $("side-after")]) {
    img.style.width = z === "fit" || !img.naturalWidth ? "" : `${img.naturalWidth * Number(z)}px`;
  }
  $("zoom-box").classList.toggle("zoomed", z !== "fit");
  $("zoom-box").classList.toggle("zoom-2", z === "2");
}
function setZoom(z) {
  const r = document.querySelector(`input[name="zoom"][value="${z}"]`);
  r.checked = true;
  applyZoom();
}
for (const r of document.querySelectorAll('input[name="zoom"]')) r.addEventListener("change", applyZoom);
for (const id of ["after", "side-before", "side-after"]) $(id).addEventListener("load", applyZoom);
$("zoom-box").addEventListener("keydown", (e) => {
  const i = ZOOMS.indexOf(document.querySelector('input[name="zoom"]:checked').value);
  if (e.key === "+" || e.key === "=") setZoom(ZOOMS[Math.min(i + 1, ZOOMS.length - 1)]);
  else if (e.key === "-" || e.key === "−") setZoom(ZOOMS[Math.max(i - 1, 0)]);
  else if (e.key === "0") setZoom("fit");
  else return;
  e.preventDefault();
});
for (const r of document.querySelectorAll('input[name="view"]')) {
  r.addEventListener("change", () => {
    const side = document.querySelector('input[name="view"]:checked').value === "side";
    $("side").hidden = !side;
    $("compare").hidden = side;
    $("compare-range").hidden = side;
    document.querySelector(".compare-label").hidden = side;
  });
}

// ---- batch ----------------------------------------------------------------------
const batch = { rows: [], running: false, op: null, params: null };
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"];
const FINISHED = ["succeeded", "failed", "canceled", "dead", "rejected"];
const RETRYABLE = ["failed", "canceled", "dead", "rejected"];
// The files chosen in the multi-file picker or, instead, the folder picker's images.
function batchFiles() {
  const folder = [...$("batch-folder").files].filter((f) => IMAGE_TYPES.includes(f.type))
    .sort((a, b) => a.webkitRelativePath.localeCompare(b.webkitRelativePath));
  return folder.length ? folder : [...$("batch-files").files];
}
function showChosen() {
  const n = batchFiles().length;
  $("batch-chosen").textContent = n ? `${n} image(s) chosen` : "";
}
// Choosing in one picker replaces what the other held.
$("batch-files").addEventListener("change", () => { $("batch-folder").value = ""; showChosen(); });
$("batch-folder").addEventListener("change", () => { $("batch-files").value = ""; showChosen(); });
const displayName = (file) => file.webkitRelativePath || file.name;
// "<file stem>-<operation>.<ext>"; a stem seen before in the batch gets "-<row>".
function batchName(row, job) {
  const stem = row.file.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]+/g, "-") || "image";
  const op = String(job.operation || "result").replace(/[^A-Za-z0-9_-]+/g, "-");
  const dup = batch.rows.some((r) => r !== row && r.index < row.index && r.file.name.replace(/\.[^.]*$/, "") === row.file.name.replace(/\.[^.]*$/, ""));
  return `${stem}${dup ? "-" + (row.index + 1) : ""}-${op}.${extensionFor(job.result ? job.result.content_type : "")}`;
}
function batchRow(file, index) {
  const tr = document.createElement("tr");
  const cells = ["file", "state", "progress", "result", "action"].map(() => document.createElement("td"));
  cells[0].textContent = displayName(file);
  const prog = document.createElement("progress");
  prog.max = 100; prog.value = 0; prog.setAttribute("aria-label", `Progress of ${displayName(file)}`);
  cells[2].append(prog);
  const btn = document.createElement("button");
  btn.type = "button"; btn.textContent = "Cancel"; btn.setAttribute("aria-label", `Cancel ${displayName(file)}`);
  const retry = document.createElement("button");
  retry.type = "button"; retry.textContent = "Retry"; retry.hidden = true; retry.className = "retry";
  retry.setAttribute("aria-label", `Retry ${displayName(file)}`);
  cells[4].append(btn, retry);
  tr.append(...cells);
  const row = { file, index, tr, cells, prog, btn, retry, job: null, result: null, state: "waiting", canceled: false };
  btn.addEventListener("click", () => cancelRow(row));
  retry.addEventListener("click", () => retryRow(row));
  return row;
}
function updateBatch() {
  const done = batch.rows.filter((r) => FINISHED.includes(r.state)).length;
  const ok = batch.rows.filter((r) => r.state === "succeeded").length;
  const bad = batch.rows.filter((r) => RETRYABLE.includes(r.state)).length;
  $("batch-progress").max = Math.max(1, batch.rows.length);
  $("batch-progress").value = done;
  $("batch-progress").setAttribute("aria-valuetext", `${done} of ${batch.rows.length} done`);
  $("batch-status").textContent = `${done} of ${batch.rows.length} done` +
    (batch.rows.length ? ` (${ok} succeeded${bad ? `, ${bad} to retry` : ""})` : "");
  $("batch-download").disabled = ok === 0;
}
function setRowState(row, s, detail) {
  row.state = s;
  row.cells[1].textContent = detail ? `${s}: ${detail}` : s;
  const finished = FINISHED.includes(s);
  row.btn.disabled = finished;
  row.retry.hidden = !RETRYABLE.includes(s);
  updateBatch();
}
async function cancelRow(row) {
  row.canceled = true;
  row.btn.disabled = true;
  if (!row.job) { setRowState(row, "canceled"); return; }
  try { await cancelJob(row.job.job_id); } catch (err) { handleAuth(err); }
}
async function runRow(row) {
  if (row.canceled) return;
  const check = await checkFile(row.file);
  if (row.canceled) { setRowState(row, "canceled"); return; }
  if (typeof check === "string") { setRowState(row, "rejected", check); return; }
  try {
    row.job = await submitJob(batch.op.route, row.file, batch.params, newIdempotencyKey());
    setRowState(row, row.job.status);
    if (row.canceled) await cancelJob(row.job.job_id);
    await new Promise((resolve) => watchJob(row.job.job_id, (d, done) => {
      row.prog.value = Math.round((d.progress || 0) * 100);
      if (!done) setRowState(row, d.status, d.error ? d.error.message : "");
      if (done) resolve();
    }, resolve));
    const final = await getJson(`/api/v1/jobs/${row.job.job_id}`);
    if (final.status === "succeeded") {
      row.prog.value = 100;
      row.result = final;
      const a = document.createElement("a");
      a.href = final.result.url; a.download = batchName(row, final); a.textContent = a.download;
      row.cells[3].replaceChildren(a);
    }
    setRowState(row, final.status, final.error ? final.error.message : "");
  } catch (err) {
    if (!handleAuth(err)) setRowState(row, "rejected", err.message);
  }
}
async function retryRow(row) {
  row.canceled = false;
  row.job = null;
  row.result = null;
  row.prog.value = 0;
  row.cells[3].replaceChildren();
  setRowState(row, "waiting");
  await runRow(row);
  if (row.state === "succeeded") $("batch-download").focus();
}
$("batch-run").addEventListener("click", async () => {
  if (batch.running) return;
  const files = batchFiles();
  const op = currentOp();
  if (!files.length || !op) { $("batch-status").textContent = "Choose images first."; return; }
  batch.running = true;
  $("batch-run").disabled = true;
  batch.op = op;
  batch.params = readParams($("params"));  // kept for retries
  batch.rows = files.map(batchRow);
  $("batch-table").tBodies[0].replaceChildren(...batch.rows.map((r) => r.tr));
  for (const r of batch.rows) setRowState(r, "waiting");
  // At most two files in flight (submitted and watched) at a time.
  let next = 0;
  const worker = async () => { while (next < batch.rows.length) await runRow(batch.rows[next++]); };
  await Promise.all([worker(), worker()]);
  batch.running = false;
  $("batch-run").disabled = false;
});
$("batch-cancel").addEventListener("click", () => { for (const r of batch.rows) if (!r.btn.disabled) cancelRow(r); });
// Download all: each result in turn, named after its file.
$("batch-download").addEventListener("click", async () => {
  const done = batch.rows.filter((r) => r.state === "succeeded" && r.result);
  for (const [i, r] of done.entries()) {
    const a = document.createElement("a");
    a.href = r.result.result.url; a.download = batchName(r, r.result); a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    $("batch-status").textContent = `downloading ${i + 1} of ${done.length}`;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  updateBatch();
});

// ---- history ----------------------------------------------------------------------
const hist = { cursor: null };
function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
async function loadHistory(reset) {
  if (reset) { hist.cursor = null; $("history-table").tBodies[0].replaceChildren(); }
  try {
    const q = new URLSearchParams({ limit: "20" });
    if (hist.cursor) q.set("cursor", hist.cursor);
    const page = await getJson(`/api/v1/jobs?${q}`);
    for (const j of page.jobs) {
      const tr = document.createElement("tr");
      const res = document.createElement("td");
      if (j.status === "succeeded" && j.result) {
        const a = document.createElement("a");
        a.href = j.result.url; a.download = resultFileName(j);
        const img = document.createElement("img");
        img.src = j.result.url; img.loading = "lazy"; img.alt = `Result of ${j.job_id}`;
        a.append(img);
        res.append(a);
      }
      tr.append(cell(j.job_id), cell(j.operation), cell(j.error ? `${j.status}: ${j.error.message}` : j.status),
                cell(new Date(j.created_at).toLocaleString()), res);
      $("history-table").tBodies[0].append(tr);
    }
    hist.cursor = page.next_cursor;
    $("history-more").hidden = !page.next_cursor;
  } catch (err) { handleAuth(err); }
}
$("history-refresh").addEventListener("click", () => loadHistory(true));
$("history-more").addEventListener("click", () => loadHistory(false));

// ---- admin ------------------------------------------------------------------------
async function loadDead() {
  try {
    const { jobs } = await getJson("/api/v1/admin/dead-letter?limit=100");
    const rows = jobs.map((j) => {
      const tr = document.createElement("tr");
      const act = document.createElement("td");
      const btn = document.createElement("button");
      btn.type = "button"; btn.textContent = "Replay"; btn.setAttribute("aria-label", `Replay ${j.job_id}`);
      btn.addEventListener("click", async () => {
        try { await sendJson("POST", `/api/v1/admin/jobs/${encodeURIComponent(j.job_id)}/replay`); $("admin-status").textContent = `${j.job_id} replayed`; loadAdmin(); } catch (err) {
          if (!handleAuth(err)) $("admin-status").textContent = err.message;
        }
      });
      act.append(btn);
      tr.append(cell(j.job_id), cell(j.operation), cell(j.error ? j.error.message : ""), act);
      return tr;
    });
    $("dead-table").tBodies[0].replaceChildren(...rows);
    $("admin-status").textContent = `${jobs.length} dead-lettered job(s)`;
  } catch (err) {
    if (!handleAuth(err)) $("admin-status").textContent = err.message;
  }
}
const STATES = ["queued", "running", "succeeded", "failed", "canceled", "dead"];
function headRow(tr, names) {
  tr.replaceChildren(...names.map((n) => { const th = document.createElement("th"); th.scope = "col"; th.textContent = n; return th; }));
}
async function loadQueue() {
  try {
    const q = await getJson("/api/v1/admin/queue");
    const states = [...STATES, ...Object.keys(q.by_state).filter((s) => !STATES.includes(s))];
    const st = $("queue-state-table");
    headRow(st.tHead.rows[0], states);
    st.tBodies[0].rows[0].replaceChildren(...states.map((s) => cell(String(q.by_state[s] || 0))));
    const ot = $("queue-op-table");
    headRow(ot.tHead.rows[0], ["Operation", ...states]);
    ot.tBodies[0].replaceChildren(...Object.entries(q.by_operation).map(([op, counts]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th"); th.scope = "row"; th.textContent = op;
      tr.append(th, ...states.map((s) => cell(String(counts[s] || 0))));
      return tr;
    }));
  } catch (err) {
    if (!handleAuth(err)) $("admin-status").textContent = `queue: ${err.message}`;
  }
}
// Workers and models: /readyz (store reachable, workers running) and the
// operations this server serves (GET /api/v1/operations).
async function loadReady() {
  let text;
  try {
    const res = await fetch("/readyz", { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => ({}));
    text = res.ok ? "Ready: the job store answers and workers are running." :
      `Not ready: ${(body.error && body.error.message) || res.status}`;
  } catch (err) { text = `Not ready: ${err.message}`; }
  const names = state.ops.map((o) => o.name);
  $("admin-ready").textContent = `${text} ${names.length} operation(s) served: ${names.join(", ")}.`;
}
function loadAdmin() { loadReady(); loadQueue(); return loadDead(); }
$("admin-refresh").addEventListener("click", loadAdmin);

// ---- start ------------------------------------------------------------------------
async function start() {
  try { await loadOps(); } catch (err) { $("submit-error").textContent = `operations: ${err.message}`; }
  try { loggedIn(await getJson("/api/v1/session")); } catch { loggedOut(""); }
  document.body.dataset.ready = "true";
}
start();
