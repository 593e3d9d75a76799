// Talks to imagen's REST API with the session cookie (same origin): JSON
// helpers, job submission with an Idempotency-Key, and SSE job events.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // The parameter a 422 names ("parameter 'scale': ..."), or "".
  get param() {
    const m = /^parameter '([^']+)'/.exec(this.message);
    return m ? m[1] : "";
  }
}

async function check(res) {
  if (res.ok) return res;
  let code = "http_" + res.status, message = res.statusText || "request failed";
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON */ }
  throw new ApiError(res.status, code, message);
}

export async function getJson(path) {
  const res = await check(await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }));
  return res.json();
}

export async function sendJson(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await check(await fetch(path, init));
  return res.status === 204 ? null : res.json();
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// POST the image and parameters to the operation's route; the job JSON.
export async function submitJob(route, file, params, idempotencyKey) {
  const form = new FormData();
  for (const [k, v] of Object.entries(params)) form.append(k, v);
  form.append("image", file, file.name || "image");
  const res = await check(await fetch(route, {
    method: "POST", credentials: "same-origin", body: form,
    headers: { Accept: "application/json", "Idempotency-Key": idempotencyKey },
  }));
  return res.json();
}

export const cancelJob = (id) => sendJson("DELETE", `/api/v1/jobs/${encodeURIComponent(id)}`);

// Calls onEvent(data) for each SSE event until the job is done; returns a
// function that closes the stream.
export function watchJob(id, onEvent, onError) {
  const es = new EventSource(`/api/v1/jobs/${encodeURIComponent(id)}/events`);
  const handle = (e) => {
    const data = JSON.parse(e.data);
    onEvent(data, e.type === "done");
    if (e.type === "done") es.close();
  };
  es.addEventListener("state", handle);
  es.addEventListener("done", handle);
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) onError && onError();
  };
  return () => es.close();
}

export function extensionFor(contentType) {
  return { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" }[contentType] || "bin";
}

// "<operation>-<job id>.<ext>", with the operation's slashes made dashes.
export function resultFileName(job) {
  const op = String(job.operation || "result").replace(/[^A-Za-z0-9_-]+/g, "-");
  const type = job.result ? job.result.content_type : "";
  return `${op}-${job.job_id}.${extensionFor(type)}`;
}
