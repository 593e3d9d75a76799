#!/usr/bin/env python3
"""Hostile clients against `imagen serve` while a well-behaved client keeps
working (loopback only, bounded: about a minute).

Attackers, all at once: slowloris (idle connections sending a header byte now
and then, more of them than the server's connection cap), chunked floods (a
chunk-size line that never ends; endless trailer fields), unauthenticated
60 MiB uploads, and a flood of random paths and methods. Meanwhile the good
client polls /healthz and submits and fetches jobs with its key.

Checks: /healthz p99 <= 100 ms and no error for the good client, every job it
submitted finishes, server peak RSS (VmHWM) stays under RSS_BOUND_MB, /metrics
stays small and valid UTF-8, and the server is still alive at the end.

usage: hostile_clients_test.py path/to/imagen"""
import http.client, json, multiprocessing, os, random, re, socket, struct, subprocess, sys, tempfile, threading, time, zlib

IMAGEN = sys.argv[1]
DURATION = float(os.environ.get("HOSTILE_SECONDS", "25"))
MAX_CONNECTIONS = 256
SLOWLORIS = 400  # more than the cap
CHUNK_FLOODS = 6
TRAILER_FLOODS = 4
PREAUTH_UPLOADS = 30
RSS_BOUND_MB = 400
fails = []


def check(what, ok, detail=""):
    print(("ok   - " if ok else "FAIL - ") + what + (" (" + detail + ")" if detail else ""), flush=True)
    if not ok:
        fails.append(what)


def png(tag):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"\x00\xff\x00\x00\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)) +
            chunk(b"tEXt", b"Comment\x00" + tag.encode()) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1


tmp = tempfile.mkdtemp()
log = open(os.path.join(tmp, "serve.log"), "wb")
proc = subprocess.Popen(
    [IMAGEN, "serve", "--data-dir", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0", "--workers", "2",
     "--set", "ops.diagnostic=true", "--set", "log.level=warn",
     "--set", "server.max_connections=%d" % MAX_CONNECTIONS, "--set", "server.header_timeout_seconds=3",
     "--set", "server.max_inflight_body_bytes=%d" % (128 << 20)],
    stdout=subprocess.PIPE, stderr=log)
url = key = None
deadline = time.time() + 30
while time.time() < deadline and (url is None or key is None):
    line = proc.stdout.readline().decode()
    if not line:
        break
    m = re.search(r"listening on http://([0-9.]+):([0-9]+)", line)
    if m:
        url = (m.group(1), int(m.group(2)))
    k = re.search(r"(imk_[A-Za-z0-9_\-]+)", line)
    if k:
        key = k.group(1)
if url is None or key is None:
    print("imagen serve did not start")
    proc.kill()
    sys.exit(1)
threading.Thread(target=proc.stdout.read, daemon=True).start()
HOST, PORT = url
stop = threading.Event()


def connect():
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def slowloris():
    socks = []
    for i in range(SLOWLORIS):
        if stop.is_set():
            break
        try:
            s = connect()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            pass
    while not stop.is_set():
        for s in list(socks):
            try:
                s.sendall(b"X-a: b\r\n")
            except OSError:
                socks.remove(s)
                try:
                    s = connect()
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    socks.append(s)
                except OSError:
                    pass
        stop.wait(1.0)
    for s in socks:
        s.close()


def chunk_flood(trailers):
    while not stop.is_set():
        try:
            s = connect()
            s.sendall(b"POST /api/v1/images/debug/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
                      b"\r\nTransfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n")
            if trailers:
                s.sendall(b"1\r\nx\r\n0\r\n")
            else:
                s.sendall(b"1")
            sent = 0
            while not stop.is_set() and sent < (256 << 20):
                s.sendall((b"X-t: " + b"a" * 1000 + b"\r\n") if trailers else b"0" * 65536)
                sent += 65536
        except OSError:
            pass
        finally:
            try:
                s.close()
            except Exception:
                pass


def preauth_upload():
    while not stop.is_set():
        try:
            s = connect()
            size = 60 << 20
            s.sendall(b"POST /api/v1/images/upscale HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                      b"boundary=b\r\nContent-Length: " + str(size).encode() + b"\r\n\r\n")
            block = b"z" * 65536
            sent = 0
            while sent < size and not stop.is_set():
                s.sendall(block)
                sent += len(block)
        except OSError:
            pass
        finally:
            try:
                s.close()
            except Exception:
                pass
        stop.wait(0.2)


def random_paths():
    rnd = random.Random(7)
    methods = ["GET", "POST", "PUT", "PATCH", "FOO", "DELETE"]
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection(HOST, PORT, timeout=5)
            for _ in range(50):
                path = "/api/v1/images/" + "".join(rnd.choice("abcdefghij%") for _ in range(12))
                c.putrequest(rnd.choice(methods), path + "%ff", skip_host=False)
                c.endheaders()
                c.getresponse().read()
            c.close()
        except Exception:
            pass


health_ms, good_errors, submitted = [], [], []


def good_client():
    headers = {"Authorization": "Bearer " + key}
    n = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            c = http.client.HTTPConnection(HOST, PORT, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            health_ms.append((time.perf_counter() - t0) * 1000)
            if r.status != 200:
                good_errors.append("healthz %d" % r.status)
            if n % 5 == 0:
                img = png("good-%d" % n)
                body = (b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                        b"Content-Type: image/png\r\n\r\n" + img + b"\r\n--b--\r\n")
                h = dict(headers)
                h["Content-Type"] = "multipart/form-data; boundary=b"
                c.request("POST", "/api/v1/images/debug/echo", body, h)
                r = c.getresponse()
                rb = r.read()
                if r.status != 202:
                    good_errors.append("submit %d %s" % (r.status, rb[:200]))
                else:
                    submitted.append(json.loads(rb)["job_id"])
            c.close()
        except Exception as e:  # noqa: BLE001 - any failure of the good client is a finding
            good_errors.append("exception %r" % e)
        n += 1
        stop.wait(0.05)


def attack(seconds):
    """All attackers, in their own process so that the good client's timing
    is not the attackers' GIL contention."""
    threads = [threading.Thread(target=slowloris)]
    threads += [threading.Thread(target=chunk_flood, args=(False,)) for _ in range(CHUNK_FLOODS)]
    threads += [threading.Thread(target=chunk_flood, args=(True,)) for _ in range(TRAILER_FLOODS)]
    threads += [threading.Thread(target=preauth_upload) for _ in range(PREAUTH_UPLOADS)]
    threads += [threading.Thread(target=random_paths) for _ in range(2)]
    for t in threads:
        t.daemon = True
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(10)


def healthz_baseline(seconds):
    """/healthz latency with no attack, for the report (same machine, same moment)."""
    out = []
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        c = http.client.HTTPConnection(HOST, PORT, timeout=10)
        c.request("GET", "/healthz")
        c.getresponse().read()
        c.close()
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    out.sort()
    return out


base = healthz_baseline(3)
print("baseline /healthz before the attack: n=%d p50 %.1f ms p99 %.1f ms (load average %s)" %
      (len(base), base[len(base) // 2], base[min(len(base) - 1, int(len(base) * 0.99))],
       open("/proc/loadavg").read().split()[0]), flush=True)
attacker = multiprocessing.get_context("fork").Process(target=attack, args=(DURATION + 4,))
attacker.start()
time.sleep(2)  # let the attack ramp up before the good client measures
good = threading.Thread(target=good_client, daemon=True)
good.start()
time.sleep(DURATION)
stop.set()
good.join(15)
attacker.join(30)
if attacker.is_alive():
    attacker.kill()

alive = proc.poll() is None
check("server alive after the attack", alive)
if alive:
    rss = peak_rss_mb(proc.pid)
    check("server peak RSS <= %d MB" % RSS_BOUND_MB, 0 < rss <= RSS_BOUND_MB, "VmHWM %.0f MB" % rss)
    health_ms.sort()
    p50 = health_ms[len(health_ms) // 2] if health_ms else -1
    p99 = health_ms[min(len(health_ms) - 1, int(len(health_ms) * 0.99))] if health_ms else -1
    check("good client /healthz p99 <= 100 ms", health_ms and p99 <= 100.0,
          "n=%d p50 %.1f ms p99 %.1f ms max %.1f ms" % (len(health_ms), p50, p99, health_ms[-1] if health_ms else -1))
    check("good client saw no errors", not good_errors, "; ".join(good_errors[:5]))
    # Every accepted job finishes.
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    unfinished = []
    for job_id in submitted:
        c.request("GET", "/api/v1/jobs/" + job_id, headers={"Authorization": "Bearer " + key, "Prefer": "wait=10"})
        r = c.getresponse()
        body = json.loads(r.read())
        if body.get("status") != "succeeded":
            unfinished.append((job_id, body.get("status")))
    check("every job of the good client succeeded", submitted and not unfinished,
          "%d submitted, %d not succeeded" % (len(submitted), len(unfinished)))
    c.request("GET", "/metrics")
    metrics = c.getresponse().read()
    try:
        metrics.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    check("/metrics is valid UTF-8", utf8)
    check("/metrics stays small after the random-path flood", len(metrics) < 200_000, "%d bytes" % len(metrics))
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
else:
    print(open(os.path.join(tmp, "serve.log"), errors="replace").read()[-4000:])
if fails:
    print("%d check(s) failed" % len(fails))
    sys.exit(1)
print("all checks passed")
