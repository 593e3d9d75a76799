#!/usr/bin/env python3
"""End-to-end: `imagen serve` as a user runs it. Several clients submit 100
jobs (each with a distinct image, an Idempotency-Key and a webhook), the
server is killed with SIGKILL mid-way and restarted on the same data folder;
every accepted job must finish exactly once with the right result, and every
webhook must verify with the Standard Webhooks algorithm.

usage: e2e_kill9_test.py path/to/imagen"""
import base64, hashlib, hmac, http.server, json, os, re, shutil, signal, struct, subprocess, sys
import tempfile, threading, time, urllib.error, urllib.request, zlib

IMAGEN = sys.argv[1]
JOBS, CLIENTS = 100, 4
fails = []


def check(what, ok):
    print(("ok   - " if ok else "FAIL - ") + what, flush=True)
    if not ok:
        fails.append(what)


def png(tag):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"\x00\xff\x00\x00\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)) +
            chunk(b"tEXt", b"Comment\x00" + tag.encode()) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Server:
    def __init__(self, data, hook_port):
        self.data, self.proc, self.url, self.hook_port = data, None, None, hook_port

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.data), "serve.log"), "ab")
        self.proc = subprocess.Popen(
            [IMAGEN, "serve", "--data-dir", self.data, "--listen", "127.0.0.1:0", "--workers", "2",
             "--set", "ops.diagnostic=true", "--set", "webhooks.allow_hosts=127.0.0.1:%d" % self.hook_port,
             "--set", "jobs.lease_seconds=3", "--set", "jobs.heartbeat_seconds=0.5",
             "--set", "webhooks.retry_base_seconds=0.2", "--set", "log.level=warn"],
            stdout=subprocess.PIPE, stderr=self.log)
        self.first_lines = []
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError("imagen serve exited: rc=%s" % self.proc.wait())
            self.first_lines.append(line)
            m = re.search(r"listening on (http://[0-9.:]+)", line)
            if m:
                self.url = m.group(1)
                break
        # The admin key line(s) follow the listening line.
        line = self.proc.stdout.readline().decode()
        self.first_lines.append(line)
        if "shown once" in line:
            self.first_lines.append(self.proc.stdout.readline().decode())
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self.url

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


received = []
received_lock = threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with received_lock:
            received.append((self.headers["webhook-id"], self.headers["webhook-timestamp"],
                             self.headers["webhook-signature"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def request(url, method="GET", body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    tmp = tempfile.mkdtemp(prefix="imagen_e2e_")
    data = os.path.join(tmp, "data")
    hook_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook_server.serve_forever, daemon=True).start()
    hook_url = "http://127.0.0.1:%d/hook" % hook_server.server_address[1]
    server = Server(data, hook_server.server_address[1])
    try:
        server.start()
        check("first start prints the admin key", any("imk_" in l for l in server.first_lines))
        # Keys are created with the CLI while the server runs.
        keys = []
        for i in range(CLIENTS):
            out = subprocess.run([IMAGEN, "keys", "create", "--data-dir", data, "--name", "client%d" % i, "--json"],
                                 capture_output=True, check=True).stdout
            keys.append(json.loads(out))
        check("keys create --json prints exactly key and webhook_secret",
              all(set(k) == {"key", "webhook_secret"} for k in keys))
        accepted = {}  # job id -> (client, expected bytes)
        lock = threading.Lock()
        state = {"url": server.url}

        def client(c):
            key = keys[c]["key"]
            for n in range(JOBS // CLIENTS):
                tag = "client%d-job%d" % (c, n)
                image = png(tag)
                boundary = "b0undary%d" % c
                parts = [("delay_ms", "40"), ("webhook_url", hook_url)]
                body = b""
                for k, v in parts:
                    body += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k, v)).encode()
                body += ("--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
                         "Content-Type: image/png\r\n\r\n" % boundary).encode() + image + b"\r\n"
                body += ("--%s--\r\n" % boundary).encode()
                headers = {"Authorization": "Bearer " + key, "Idempotency-Key": tag,
                           "Content-Type": "multipart/form-data; boundary=" + boundary}
                for attempt in range(200):
                    try:
                        status, _, rb = request(state["url"] + "/api/v1/images/debug/echo", "POST", body, headers, 5)
                    except Exception:
                        time.sleep(0.1)  # server down: retry the same request
                        continue
                    if status == 202:
                        with lock:
                            accepted[json.loads(rb)["job_id"]] = (c, image)
                        break
                    if status in (429, 503):
                        time.sleep(0.1)
                        continue
                    raise RuntimeError("submit answered %d: %s" % (status, rb))

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        while len(accepted) < 35:
            time.sleep(0.01)
        server.kill9()
        check("killed with SIGKILL after %d accepted jobs" % len(accepted), True)
        time.sleep(0.3)
        state["url"] = server.start()
        check("second start does not print a new key", not any("imk_" in l for l in server.first_lines))
        for t in threads:
            t.join()
        check("all %d submissions accepted exactly once (Idempotency-Key across the crash)" % JOBS,
              len(accepted) == JOBS)
        secret_of = {}
        deadline = time.time() + 120
        results_ok, done = 0, {}
        while time.time() < deadline and len(done) < len(accepted):
            for job_id, (c, image) in accepted.items():
                if job_id in done:
                    continue
                status, _, rb = request(state["url"] + "/api/v1/jobs/" + job_id,
                                        headers={"Authorization": "Bearer " + keys[c]["key"]})
                job = json.loads(rb)
                if job["status"] in ("succeeded", "failed", "canceled", "dead"):
                    done[job_id] = job
            time.sleep(0.2)
        check("every accepted job finished", len(done) == len(accepted))
        check("every job succeeded", all(j["status"] == "succeeded" for j in done.values()))
        for job_id, (c, image) in accepted.items():
            status, headers, rb = request(state["url"] + "/api/v1/jobs/" + job_id + "/result",
                                          headers={"Authorization": "Bearer " + keys[c]["key"]})
            if status == 200 and rb == image and headers.get("Content-Type") == "image/png":
                results_ok += 1
            secret_of[job_id] = keys[c]["webhook_secret"]
        check("every result is the job's own image (%d/%d)" % (results_ok, len(accepted)), results_ok == len(accepted))
        retried = sum(1 for j in done.values() if j["attempts"] > 1)
        print("# jobs that ran again after the crash: %d" % retried)
        # Webhooks: one event per job (redeliveries keep the same webhook-id), all signatures valid.
        deadline = time.time() + 30
        while time.time() < deadline:
            with received_lock:
                ids = {json.loads(b)["data"]["job_id"] for (_, _, _, b) in received}
            if ids >= set(accepted):
                break
            time.sleep(0.2)
        bad_sig, msg_ids = 0, {}
        with received_lock:
            for (mid, ts, sig, body) in received:
                payload = json.loads(body)
                job_id = payload["data"]["job_id"]
                key = base64.b64decode(secret_of[job_id][len("whsec_"):])
                expect = "v1," + base64.b64encode(hmac.new(key, ("%s.%s." % (mid, ts)).encode() + body,
                                                           hashlib.sha256).digest()).decode()
                if sig != expect or payload["type"] != "job.succeeded":
                    bad_sig += 1
                msg_ids.setdefault(job_id, set()).add(mid)
        check("a webhook arrived for every job", set(msg_ids) == set(accepted))
        check("every webhook signature verifies", bad_sig == 0)
        check("exactly one event per job", all(len(v) == 1 for v in msg_ids.values()))
        status, _, metrics = request(state["url"] + "/metrics")
        check("/metrics counts the succeeded jobs", b'imagen_jobs{state="succeeded"} 100' in metrics)
        check("/metrics has webhook outcomes", b'imagen_webhook_deliveries_total{outcome="delivered"}' in metrics)
        server.proc.send_signal(signal.SIGTERM)
        check("SIGTERM exits 0", server.proc.wait(timeout=30) == 0)
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
        hook_server.shutdown()
        if not fails:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# data and log kept in " + tmp)
    if fails:
        print("%d check(s) failed" % len(fails))
        sys.exit(1)
    print("all checks passed")


main()
