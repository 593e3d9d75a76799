#!/usr/bin/env python3
"""Pre-auth resource use (issue 15 item 11, issue 16 item 8): `imagen serve`
and `imagen infer` answer a request from its head alone when the route is
unknown or (REST) the key is missing or unknown, before a byte of the body is
sent; 30 such 60 MiB uploads leave the server's RSS where it was.

usage: preauth_test.py path/to/imagen"""
import os, re, socket, subprocess, sys, tempfile, threading, time

IMAGEN = sys.argv[1]
fails = []


def check(what, ok, detail=""):
    print(("ok   - " if ok else "FAIL - ") + what + (" (" + detail + ")" if detail else ""), flush=True)
    if not ok:
        fails.append(what)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1


def head_only(port, head, timeout=5):
    """Sends only a request head that announces a large body; returns the
    status line and how long the answer took, or None when none came."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.perf_counter()
    s.sendall(head)
    try:
        data = s.recv(65536)
    except socket.timeout:
        data = b""
    elapsed = (time.perf_counter() - t0) * 1000
    s.close()
    if not data:
        return None, elapsed, b""
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), elapsed, data


def start(args, pattern):
    proc = subprocess.Popen([IMAGEN] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    found = None
    deadline = time.time() + 30
    lines = []
    while time.time() < deadline and found is None:
        line = proc.stdout.readline().decode()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            found = m
    if found is None:
        proc.kill()
        print("".join(lines))
        sys.exit("server did not start: " + " ".join(args))
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, found


big = 60 << 20
tmp = tempfile.mkdtemp()

# REST API
serve, m = start(["serve", "--data-dir", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0", "--workers", "1",
                  "--set", "log.level=warn"], r"listening on http://127\.0\.0\.1:([0-9]+)")
port = int(m.group(1))
upload = ("POST /api/v1/images/upscale HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
          "Content-Length: %d\r\n" % big)
status, ms, raw = head_only(port, (upload + "\r\n").encode())
check("Issue15PreAuthUploadGets401BeforeItsBody", status is not None and " 401 " in status + " ",
      "%s in %.1f ms" % (status, ms))
check("the 401 is a JSON error naming the missing key", b'"code":"unauthenticated"' in raw)
status, ms, _ = head_only(port, (upload + "Authorization: Bearer imk_not_a_key\r\n\r\n").encode())
check("Issue15UnknownKeyUploadGets401BeforeItsBody", status is not None and " 401 " in status + " ",
      "%s in %.1f ms" % (status, ms))
status, ms, _ = head_only(port, ("POST /api/v1/no/such/route HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                                 % big).encode())
check("Issue15UnknownRouteGets404BeforeItsBody", status is not None and " 404 " in status + " ",
      "%s in %.1f ms" % (status, ms))
before = rss_mb(serve.pid)


def unauthenticated_upload():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall((upload + "\r\n").encode())
        block = b"z" * 65536
        sent = 0
        while sent < big:
            s.sendall(block)
            sent += len(block)
    except OSError:
        pass  # the server closed after its 401: what it should do


threads = [threading.Thread(target=unauthenticated_upload) for _ in range(30)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
after = rss_mb(serve.pid)
check("30 unauthenticated 60 MiB uploads leave RSS within 64 MB of where it was", after - before < 64,
      "RSS %.0f MB -> %.0f MB" % (before, after))
check("imagen serve still alive", serve.poll() is None)
serve.terminate()
serve.wait(20)

# KServe HTTP (imagen infer)
repo = os.path.join(tmp, "models")
os.makedirs(repo)
infer, m = start(["infer", "--model-repository", repo, "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"],
                 r"HTTP 127\.0\.0\.1:([0-9]+)")
port = int(m.group(1))
status, ms, raw = head_only(port, ("POST /v2/no/such/route HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                                   % big).encode())
check("Issue16UnknownKServeRouteGets404BeforeItsBody", status is not None and " 404 " in status + " ",
      "%s in %.1f ms" % (status, ms))
body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
check("the KServe 404 body is {\"error\":\"<message>\"}", body.startswith(b'{"error":"'), body[:80].decode(errors="replace"))
check("imagen infer still alive", infer.poll() is None)
infer.terminate()
infer.wait(20)

if fails:
    print("%d check(s) failed" % len(fails))
    sys.exit(1)
print("all checks passed")
