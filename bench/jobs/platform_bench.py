#!/usr/bin/env python3
"""Job platform benchmarks against a real `imagen serve` (diagnostic echo op).

1. Submissions/s: CLIENTS keep-alive connections submit as fast as they can.
2. Submit latency at a fixed offered rate (default 200/s, open loop, paced),
   after the queue left by (1) drained and the disk settled (--settle). Each
   paced client is its own process (no shared GIL inflating the client
   figures), and the server's own time per submission (handler + response
   write, from its request log) is reported next to the client's.
3. End-to-end overhead: jobs with delay_ms=D submitted one at a time; the
   server's finished_at - created_at minus D (queue + lease + blob I/O +
   store transitions), and the client's submit -> result-available time minus D.

usage: platform_bench.py path/to/imagen [--rate 200] [--seconds 10] [--clients 8] [--workers 2]
                         [--data-root DIR] [--settle S] [--keep-log]
Prints figures, asserts nothing."""
import argparse, datetime, http.client, json, multiprocessing, os, re, shutil, signal, statistics, struct
import subprocess, tempfile, threading, time, zlib


def png(tag):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)) +
            chunk(b"tEXt", b"Comment\x00" + tag.encode()) +
            chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + chunk(b"IEND", b""))


def form(fields, image):
    b = "bEnChBoUnDaRy"
    body = b"".join(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)).encode()
                    for k, v in fields)
    body += ("--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
             "Content-Type: image/png\r\n\r\n" % b).encode() + image + ("\r\n--%s--\r\n" % b).encode()
    return body, "multipart/form-data; boundary=" + b


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class Client:
    def __init__(self, host, port, key):
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.key = key

    def submit(self, delay_ms, tag):
        body, ctype = form([("delay_ms", str(delay_ms))], png(tag))
        self.conn.request("POST", "/api/v1/images/debug/echo", body,
                          {"Authorization": "Bearer " + self.key, "Content-Type": ctype})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data

    def get(self, path, headers=None):
        h = {"Authorization": "Bearer " + self.key}
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        r = self.conn.getresponse()
        return r.status, r.read()


def paced_client(host, port, key, i, per, total, rate, start):
    """One paced client process: submissions i, i+per, ... at start + n/rate."""
    c, lat, late = Client(host, port, key), [], 0
    for n in range(i, total, per):
        due = start + n / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        else:
            late += 1
        t0 = time.perf_counter()
        s, _ = c.submit(0, "paced-%d" % n)
        dt = time.perf_counter() - t0
        if s == 202:
            lat.append(dt)
    return lat, late


def drain(c):
    while True:
        s, m = c.get("/metrics")
        depth = re.search(rb"imagen_job_queue_depth (\d+)", m)
        running = re.search(rb'imagen_jobs\{state="running"\} (\d+)', m)
        if depth and int(depth.group(1)) == 0 and running and int(running.group(1)) == 0:
            return
        time.sleep(0.5)


def server_submit_ms(log_path):
    """Server time (ms) of each POST /api/v1/images/..., in log order."""
    out = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if "request method=POST" in line and "/api/v1/images/" in line:
                m = re.search(r" ms=([0-9.e+-]+)", line)
                if m:
                    out.append(float(m.group(1)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("imagen")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--e2e-jobs", type=int, default=30)
    ap.add_argument("--delay-ms", type=int, default=100)
    ap.add_argument("--settle", type=float, default=3, help="seconds of quiet between the drain and the paced run")
    ap.add_argument("--keep-log", action="store_true", help="keep the server's log (its path is printed)")
    ap.add_argument("--data-root", default=None,
                    help="folder for the data dir (e.g. /dev/shm to take the disk's fsync out of the figures)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="imagen_bench_", dir=a.data_root)
    log_path = os.path.join(tempfile.gettempdir(), os.path.basename(tmp) + ".log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([a.imagen, "serve", "--data-dir", tmp + "/data", "--listen", "127.0.0.1:0",
                             "--workers", str(a.workers), "--set", "ops.diagnostic=true",
                             "--set", "log.level=info", "--set", "jobs.max_queue_depth=1000000"],
                            stdout=subprocess.PIPE, stderr=log)
    try:
        port = None
        while port is None:
            line = proc.stdout.readline().decode()
            m = re.search(r"listening on http://([0-9.]+):(\d+)", line)
            if m:
                host, port = m.group(1), int(m.group(2))
        proc.stdout.readline()
        key = proc.stdout.readline().decode().strip()
        fs = []
        fd = os.open(os.path.join(tmp, "fsync_probe"), os.O_WRONLY | os.O_CREAT)
        for _ in range(30):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            fs.append(time.perf_counter() - t0)
        os.close(fd)
        print("imagen serve: workers=%d, %d CPU cores visible (shared with other processes); data in %s; "
              "fsync of 4 KiB there: p50 %.2f ms p99 %.2f ms" % (a.workers, os.cpu_count(), tmp,
                                                               1e3 * pct(fs, 50), 1e3 * pct(fs, 99)))

        # 1. Saturation.
        lat, lock, stop, sent = [], threading.Lock(), time.time() + a.seconds, [0]

        def flood(i):
            c, n = Client(host, port, key), 0
            while time.time() < stop:
                t0 = time.perf_counter()
                s, _ = c.submit(0, "flood-%d-%d" % (i, n))
                dt = time.perf_counter() - t0
                n += 1
                with lock:
                    sent[0] += 1
                    if s == 202:
                        lat.append(dt)
        ts = [threading.Thread(target=flood, args=(i,)) for i in range(a.clients)]
        t0 = time.time()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        el = time.time() - t0
        print("saturation: %d accepted submissions in %.1f s by %d clients = %.0f submissions/s; "
              "latency p50 %.2f ms p99 %.2f ms" % (len(lat), el, a.clients, len(lat) / el,
                                                  1e3 * pct(lat, 50), 1e3 * pct(lat, 99)))
        # The paced run starts from an empty queue, as a server that keeps up
        # with 200/s would be.
        c = Client(host, port, key)
        t0 = time.time()
        drain(c)
        print("queue left by the saturation run drained in %.1f s" % (time.time() - t0))
        # ... and the store's background checkpoint folded the WAL those
        # ~10^4 jobs left into the database (a few seconds of disk writes).
        time.sleep(a.settle)

        # 2. Paced open loop at a.rate, one process per client.
        total = int(a.rate * a.seconds)
        per = a.clients
        start = time.time() + 0.5
        with multiprocessing.get_context("fork").Pool(per) as pool:
            parts = pool.starmap(paced_client, [(host, port, key, i, per, total, a.rate, start) for i in range(per)])
        el = time.time() - start
        lat2 = [x for l, _ in parts for x in l]
        late = sum(n for _, n in parts)
        time.sleep(0.5)  # the server logs a request after its response
        server_ms = server_submit_ms(log_path)[sent[0]:sent[0] + total]
        print("paced %.0f/s for %.0f s: %d accepted (%.0f/s achieved, %d sent late); client submit latency "
              "p50 %.2f ms p90 %.2f ms p99 %.2f ms max %.2f ms; server (handler + write) p50 %.2f ms p90 %.2f ms "
              "p99 %.2f ms max %.2f ms" % (a.rate, a.seconds, len(lat2), len(lat2) / el, late, 1e3 * pct(lat2, 50),
                                           1e3 * pct(lat2, 90), 1e3 * pct(lat2, 99), 1e3 * max(lat2),
                                           pct(server_ms, 50), pct(server_ms, 90), pct(server_ms, 99),
                                           max(server_ms)))

        # Drain the queue before measuring end-to-end time.
        drain(c)

        # 3. End-to-end overhead, one job at a time.
        server_over, client_over = [], []
        for n in range(a.e2e_jobs):
            t0 = time.perf_counter()
            s, body = c.submit(a.delay_ms, "e2e-%d" % n)
            job_id = json.loads(body)["job_id"]
            while True:
                s, jb = c.get("/api/v1/jobs/" + job_id, {"Prefer": "wait=30"})
                job = json.loads(jb)
                if job["status"] == "succeeded":
                    break
            t1 = time.perf_counter()
            server_over.append(parse_ts(job["finished_at"]) - parse_ts(job["created_at"]) - a.delay_ms / 1e3)
            client_over.append(t1 - t0 - a.delay_ms / 1e3)
        print("end-to-end, operation %d ms, %d jobs one at a time: server (finished_at - created_at - op) "
              "p50 %.1f ms p99 %.1f ms; client (submit -> finished job in hand - op) p50 %.1f ms p99 %.1f ms" %
              (a.delay_ms, a.e2e_jobs, 1e3 * pct(server_over, 50), 1e3 * pct(server_over, 99),
               1e3 * pct(client_over, 50), 1e3 * pct(client_over, 99)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if a.keep_log:
            print("server log: " + log_path)
        elif os.path.exists(log_path):
            os.unlink(log_path)


if __name__ == "__main__":
    main()
