#!/usr/bin/env python3
"""Browser test of the web UI: `imagen serve` on loopback, driven in headless
Debian Chromium through Debian's python3-selenium and chromium-driver.

  ui_test.py IMAGEN [OUT_DIR]

Logs in through the page, uploads a real photo (tests/ops/fetch_test_photos.sh,
else a PNG made here), runs style_comic (and upscale / remove_background when
models/ has them), checks the downloaded file is the bytes of
GET /api/v1/jobs/{id}/result, cancels a job, runs a batch of 5, sees a 422
next to its field, checks the keyboard slider and CSP headers, logs out and
is refused. Screenshots at 1280 and 360 px go to OUT_DIR. Without Chromium it
skips (exit 77), under CI=true it fails naming what is missing.
"""
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

IMAGEN = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="imagen-ui-")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FAILS = []


def check(what, ok, detail=""):
    print(("ok   - " if ok else "FAIL - ") + what + ("" if ok else "  " + str(detail)), flush=True)
    if not ok:
        FAILS.append(what)


def missing_prereqs():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("chromium (apt-get install chromium)")
    if not os.path.exists(DRIVER):
        missing.append("chromedriver (apt-get install chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        # Debian's python3-selenium, seen from another Python 3 (pyenv, venv).
        sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import selenium  # noqa: F401,F811
    except ImportError:
        missing.append("selenium (apt-get install python3-selenium)")
    return missing


def make_png(path, w, h):
    """A smooth photo-like RGB gradient with texture, as a PNG."""
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            row += bytes(((x * 255 // w) ^ (y & 7), (y * 255 // h), ((x + y) * 3) & 255))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)
    return path


def find_photo(tmp):
    try:
        d = subprocess.run(["bash", os.path.join(ROOT, "tests/ops/fetch_test_photos.sh")], capture_output=True,
                           text=True, timeout=120).stdout.strip()
        p = os.path.join(d, "chelsea.png")
        if d and os.path.exists(p):
            return p
    except Exception:  # noqa: BLE001 (offline: a made PNG instead)
        pass
    return make_png(os.path.join(tmp, "photo.png"), 320, 200)


class Server:
    def __init__(self, data, models):
        args = [IMAGEN, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--workers", "2",
                "--set", "ops.diagnostic=true", "--set", "log.level=warn"]
        if models:
            args += ["--set", "inference.model_repository=" + models]
        self.log = open(os.path.join(OUT, "serve.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        self.url = None
        self.key = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            m = re.search(r"listening on (http://[0-9.:]+)", line)
            if m:
                self.url = m.group(1)
            m = re.search(r"(imk_[A-Za-z0-9_-]+)", line)
            if m:
                self.key = m.group(1)
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        if not self.url or not self.key:
            raise RuntimeError("imagen serve did not print its URL and admin key (see serve.log)")

    def request(self, method, path, body=None, headers=None):
        hp = self.url[len("http://"):]
        c = http.client.HTTPConnection(hp, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def bearer(self, method, path):
        return self.request(method, path, headers={"Authorization": "Bearer " + self.key})

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def check_headers(server):
    status, h, body = server.request("GET", "/")
    check("GET / answers the page", status == 200 and b"<!doctype html>" in body, status)
    csp = h.get("content-security-policy", "")
    check("index has a strict CSP", "default-src 'self'" in csp and "script-src 'self'" in csp and
          "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, csp)
    check("index: nosniff, no-referrer, no-cache", h.get("x-content-type-options") == "nosniff" and
          h.get("referrer-policy") == "no-referrer" and h.get("cache-control") == "no-cache", h)
    check("no inline script", re.search(rb"<script(?![^>]*\bsrc=)", body) is None)
    assets = re.findall(rb'/ui/([A-Za-z0-9_.-]+)', body)
    check("index links hashed assets", len(assets) >= 2 and all(re.search(rb"\.[0-9a-f]{12}\.", a) for a in assets),
          assets)
    for a in assets:
        s, ah, _ = server.request("GET", "/ui/" + a.decode())
        check("asset %s is immutable" % a.decode(), s == 200 and "immutable" in ah.get("cache-control", "") and
              "max-age=31536000" in ah.get("cache-control", ""), (s, ah.get("cache-control")))
    s, _, _ = server.request("GET", "/ui/app.js")
    check("an unhashed asset name is 404", s == 404, s)
    s, _, _ = server.request("POST", "/api/v1/session", json.dumps({"api_key": "imk_wrong"}),
                             {"Content-Type": "application/json"})
    check("login with a wrong key is 401", s == 401, s)
    s, h, _ = server.request("POST", "/api/v1/session", json.dumps({"api_key": server.key}),
                             {"Content-Type": "application/json", "Origin": server.url})
    cookie = h.get("set-cookie", "")
    check("login sets an HttpOnly SameSite=Strict cookie", s == 200 and "HttpOnly" in cookie and
          "SameSite=Strict" in cookie and "Path=/" in cookie, cookie)
    sid = cookie.split(";")[0]
    s, h, _ = server.request("POST", "/api/v1/session", json.dumps({"api_key": server.key}),
                             {"Content-Type": "application/json", "X-Forwarded-Proto": "https"})
    check("behind a TLS proxy the cookie is Secure", s == 200 and "Secure" in h.get("set-cookie", ""), h)
    s, _, _ = server.request("POST", "/api/v1/session", json.dumps({"api_key": server.key}),
                             {"Content-Type": "application/json", "Origin": "http://evil.example"})
    check("a cross-site login is 403", s == 403, s)
    s, _, _ = server.request("DELETE", "/api/v1/jobs/job_x", headers={"Cookie": sid, "Origin": "http://evil.example"})
    check("a cross-origin state change with the cookie is 403", s == 403, s)
    s, _, _ = server.request("DELETE", "/api/v1/jobs/job_x", headers={"Cookie": sid})
    check("a state change with the cookie and no Origin is 403", s == 403, s)
    s, _, _ = server.request("GET", "/api/v1/jobs", headers={"Cookie": sid})
    check("a GET with the cookie is allowed", s == 200, s)
    s, _, _ = server.bearer("GET", "/api/v1/jobs")
    check("Bearer keys keep working", s == 200, s)


def check_admin_queue(server, data_dir):
    """GET /api/v1/admin/queue: counts per state and operation, admin only."""
    s, h, body = server.bearer("GET", "/api/v1/admin/queue")
    q = json.loads(body) if s == 200 else {}
    check("GET /api/v1/admin/queue answers counts per state and operation", s == 200 and
          set(q.get("by_state", {})) >= {"queued", "running", "succeeded", "failed", "canceled", "dead"} and
          q["by_operation"].get("style_comic", {}).get("succeeded", 0) >= 6 and
          sum(q["by_state"].values()) == sum(sum(v.values()) for v in q["by_operation"].values()), (s, body[:300]))
    s, _, _ = server.request("GET", "/api/v1/admin/queue")
    check("admin/queue without a key is 401", s == 401, s)
    made = subprocess.run([IMAGEN, "keys", "create", "--data-dir", data_dir, "--name", "viewer", "--json"],
                          capture_output=True, text=True, timeout=60)
    try:
        viewer = json.loads(made.stdout)["key"]
    except ValueError:
        check("imagen keys create makes a non-admin key", False, made.stderr)
        return
    s, _, body = server.request("GET", "/api/v1/admin/queue", headers={"Authorization": "Bearer " + viewer})
    check("admin/queue with a non-admin key is 403", s == 403, (s, body[:200]))


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def find_axe():
    """axe-core's axe.min.js: $AXE_CORE_JS, else tools/npm (./run installs it)."""
    for p in (os.environ.get("AXE_CORE_JS", ""), os.path.join(ROOT, "tools/npm/node_modules/axe-core/axe.min.js")):
        if p and os.path.exists(p):
            return p
    return ""


def main():
    missing = missing_prereqs()
    if missing:
        msg = "browser test prerequisites missing: " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            print("FAIL - " + msg)
            return 1
        print("SKIP - " + msg)
        return 77
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="imagen-ui-")
    downloads = os.path.join(tmp, "downloads")
    os.makedirs(downloads)
    models = os.path.join(ROOT, "models")
    models = models if os.path.isdir(models) else ""
    server = Server(os.path.join(tmp, "data"), models)
    driver = None
    try:
        check_headers(server)
        ops = json.loads(server.request("GET", "/api/v1/operations")[2])["operations"]
        names = {o["name"] for o in ops}
        photo = find_photo(tmp)

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {"download.default_directory": downloads,
                                               "download.prompt_for_download": False,
                                               # "Download all" saves several files (the user allows it once).
                                               "profile.default_content_setting_values.automatic_downloads": 1})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
        wait = WebDriverWait(driver, 180, poll_frequency=0.1)
        by_id = lambda i: driver.find_element(By.ID, i)  # noqa: E731

        def shots(name):
            for w in (1280, 360):
                driver.set_window_size(w, 1000)
                time.sleep(0.3)
                h = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(w, min(max(h + 120, 600), 4000))
                driver.execute_script("window.scrollTo(0, 0)")
                time.sleep(0.3)
                driver.save_screenshot(os.path.join(OUT, "%s-%d.png" % (name, w)))
            driver.set_window_size(1280, 1000)

        def text(i):
            return by_id(i).text

        axe = find_axe()
        if not axe and os.environ.get("CI") == "true":
            check("axe-core is installed (tools/npm: npm install axe-core)", False)

        def a11y(name):
            """No WCAG 2.0/2.1 A/AA violations from axe-core in the view shown."""
            if not axe:
                print("skip - axe-core not installed: no accessibility check of " + name)
                return
            if not driver.execute_script("return !!window.axe"):
                # Through the driver (DevTools), not a <script> tag: the page's CSP stays strict.
                driver.execute_script(open(axe, encoding="utf-8").read())
            r = driver.execute_script("return await axe.run(document, {runOnly: {type: 'tag', values: %s}})"
                                      % json.dumps(AXE_TAGS))
            v = ["%s (%s): %s" % (x["id"], x["impact"], "; ".join(n["target"][0] if isinstance(n["target"][0], str)
                                                                else str(n["target"]) for n in x["nodes"][:3]))
                 for x in r["violations"]]
            check("axe-core: no WCAG A/AA violations on " + name, not v, v)

        driver.get(server.url + "/")
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
        check("not logged in: the login form shows", by_id("view-login").is_displayed())
        shots("login")
        a11y("login")
        by_id("api-key").send_keys("imk_wrong")
        by_id("api-key").send_keys(Keys.ENTER)
        wait.until(lambda d: text("login-error"))
        check("a wrong key shows the server's message", "unknown API key" in text("login-error"), text("login-error"))
        by_id("api-key").clear()
        by_id("api-key").send_keys(server.key)
        driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
        wait.until(lambda d: by_id("view-single").is_displayed())
        check("logged in: the single-image view and admin tab show", by_id("tab-admin").is_displayed())
        check("the key is not kept by the page", not driver.execute_script(
            "return Object.keys(sessionStorage).length + Object.keys(localStorage).length"))
        check("the session cookie is HttpOnly", all(c.get("httpOnly") for c in driver.get_cookies()
                                                    if c["name"] == "imagen_session"))

        def run_op(op, params=None, photo_path=photo):
            Select(by_id("op")).select_by_value(op)
            by_id("file").send_keys(photo_path)
            wait.until(lambda d: text("file-info"))
            for k, v in (params or {}).items():
                f = by_id("param-" + k)
                f.clear()
                f.send_keys(str(v))
            before = len(json.loads(server.bearer("GET", "/api/v1/jobs?limit=200")[2])["jobs"])
            # Two clicks in one task: the second must not submit again.
            driver.execute_script("const b=document.getElementById('run'); b.click(); b.click();")
            return before

        def wait_status(*words):
            wait.until(lambda d: any(w in text("status") for w in words) or text("submit-error"))
            return text("status")

        # style_comic on the photo.
        before = run_op("style_comic")
        st = wait_status("succeeded", "failed", "dead")
        check("style_comic succeeds", "succeeded" in st, st + " " + text("submit-error"))
        jobs = json.loads(server.bearer("GET", "/api/v1/jobs?limit=200")[2])["jobs"]
        check("a double click submits one job", len(jobs) == before + 1, (before, len(jobs)))
        wait.until(lambda d: by_id("result").is_displayed())
        job_id = jobs[0]["job_id"]
        link = by_id("download")
        fname = link.get_attribute("download")
        check("download name is <op>-<job>.<ext>", fname == "style_comic-%s.png" % job_id, fname)
        slider = by_id("compare-range")
        slider.send_keys(Keys.ARROW_LEFT)
        check("the before/after slider moves by keyboard", slider.get_attribute("value") == "49",
              slider.get_attribute("value"))
        slider.send_keys(Keys.HOME)
        check("Home moves the slider to 0", slider.get_attribute("value") == "0")
        slider.send_keys(Keys.END)
        check("the slider says its value", "100" in (slider.get_attribute("aria-valuetext") or ""))
        for _ in range(50):
            slider.send_keys(Keys.ARROW_LEFT)
        shots("single-result")
        a11y("single-result")
        link.click()
        path = os.path.join(downloads, fname)
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(path):
            time.sleep(0.1)
        _, _, expected = server.bearer("GET", "/api/v1/jobs/%s/result" % job_id)
        got = open(path, "rb").read() if os.path.exists(path) else b""
        check("downloaded bytes equal GET /result", got == expected and len(got) > 0, (len(got), len(expected)))
        driver.find_element(By.CSS_SELECTOR, 'input[name="view"][value="side"]').click()
        check("side-by-side view shows", by_id("side").is_displayed() and not by_id("compare").is_displayed())
        shots("single-side")
        a11y("single-side")
        driver.find_element(By.CSS_SELECTOR, 'input[name="view"][value="slider"]').click()

        # Zoom: the radios by keyboard (Fit -> 1x -> 2x), and + / 0 on the image box.
        def after_size():
            return driver.execute_script("const i = document.getElementById('after');"
                                         "return [i.naturalWidth, i.getBoundingClientRect().width];")

        def zoom_value():
            return driver.execute_script("return document.querySelector('input[name=zoom]:checked').value")
        driver.find_element(By.CSS_SELECTOR, 'input[name="zoom"][value="fit"]').send_keys(Keys.ARROW_RIGHT)
        nat, w = after_size()
        check("zoom 1x by keyboard shows actual pixels", zoom_value() == "1" and abs(w - nat) < 1, (zoom_value(), nat, w))
        driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
        nat, w = after_size()
        check("zoom 2x doubles the result", zoom_value() == "2" and abs(w - 2 * nat) < 1, (zoom_value(), nat, w))
        check("the zoomed box scrolls", "zoomed" in by_id("zoom-box").get_attribute("class") and
              by_id("zoom-box").get_attribute("tabindex") == "0")
        check("the checkerboard stays behind the result", "checker" in by_id("compare").get_attribute("class"))
        shots("single-zoom")
        a11y("single-zoom")
        by_id("zoom-box").send_keys("0")
        check("0 on the image box zooms to fit", zoom_value() == "fit" and after_size()[1] <= by_id(
            "zoom-box").size["width"] + 1, (zoom_value(), after_size()))
        by_id("zoom-box").send_keys("+")
        check("+ on the image box zooms in", zoom_value() == "1", zoom_value())
        by_id("zoom-box").send_keys("0")

        # Copy as curl names the route and the Idempotency-Key.
        by_id("copy-curl").click()
        curl = text("curl")
        check("copy as curl gives the route and headers", "/api/v1/images/style/comic" in curl and
              "Idempotency-Key" in curl and "Bearer $IMAGEN_KEY" in curl, curl)

        # Re-run with an edited parameter: the form kept its values; a second job.
        check("after a result the form keeps the operation and file",
              Select(by_id("op")).first_selected_option.get_attribute("value") == "style_comic" and
              by_id("file-info").text != "")
        before = len(json.loads(server.bearer("GET", "/api/v1/jobs?limit=200")[2])["jobs"])
        by_id("param-strength").clear()
        by_id("param-strength").send_keys("0.3")
        by_id("run").click()
        wait.until(lambda d: by_id("download").get_attribute("download") != fname and by_id("result").is_displayed())
        jobs = json.loads(server.bearer("GET", "/api/v1/jobs?limit=200")[2])["jobs"]
        rerun_id = jobs[0]["job_id"]
        check("re-run makes a second job with its own id", rerun_id != job_id and len(jobs) == before + 1 and
              by_id("download").get_attribute("download") == "style_comic-%s.png" % rerun_id,
              (job_id, rerun_id, before, len(jobs)))
        check("the second job has the edited parameter", float(jobs[0]["parameters"].get("strength", -1)) == 0.3,
              jobs[0]["parameters"])
        check("the form still shows the edited value", by_id("param-strength").get_attribute("value") == "0.3")

        # Real models, when installed.
        for op, route_word in (("upscale", "upscale"), ("remove_background", "background")):
            op_json = next((o for o in ops if o["name"] == op), None)
            if not op_json or not models:
                print("skip - %s: not installed here" % op)
                continue
            run_op(op)
            st = wait_status("succeeded", "failed", "dead")
            check("%s succeeds" % op, "succeeded" in st, st + " " + text("submit-error"))
            shots("single-" + op)

        # A bad parameter: the server's 422 message next to the field.
        strength = next(p for p in next(o for o in ops if o["name"] == "style_comic")["parameters"]
                        if p["name"] == "strength")
        run_op("style_comic", {"strength": (strength.get("maximum") or 1) * 10 + 5})
        wait.until(lambda d: text("param-strength-error") or text("submit-error"))
        err = text("param-strength-error")
        check("a bad parameter shows the server's message at its field", "parameter 'strength'" in err,
              err or text("submit-error"))
        check("the field is marked invalid", by_id("param-strength").get_attribute("aria-invalid") == "true")
        shots("single-validation")
        a11y("single-validation")

        # Cancel a slow job.
        if "echo" in names:
            run_op("echo", {"delay_ms": 30000})
            wait_status("running", "queued")
            wait.until(lambda d: by_id("cancel").is_displayed())
            by_id("cancel").click()
            st = wait_status("canceled")
            check("a running job is canceled from the page", "canceled" in st, st)

        # Batch of 5.
        Select(by_id("op")).select_by_value("style_comic")
        by_id("param-strength").clear()
        driver.find_element(By.CSS_SELECTOR, ".tab[data-view=batch]").click()
        wait.until(lambda d: by_id("view-batch").is_displayed())
        files = []
        for i in range(5):
            files.append(make_png(os.path.join(tmp, "batch%d.png" % i), 48 + 8 * i, 40))
        by_id("batch-files").send_keys("\n".join(files))
        by_id("batch-run").click()
        wait.until(lambda d: "5 of 5 done" in text("batch-status"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")
        states = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
        check("a batch of 5 succeeds", len(rows) == 5 and all(s == "succeeded" for s in states), states)
        check("overall progress: the bar is full", by_id("batch-progress").get_attribute("value") == "5" and
              by_id("batch-progress").get_attribute("max") == "5")

        # Download all: each result in turn, named after its file.
        by_id("batch-download").click()
        want = {os.path.join(downloads, "batch%d-style_comic.png" % i): rows[i] for i in range(5)}
        deadline = time.time() + 30
        while time.time() < deadline and not all(os.path.exists(p) for p in want):
            time.sleep(0.1)
        got_names = sorted(n for n in os.listdir(downloads) if n.startswith("batch"))
        check("download all saves the 5 results as <file>-<op>.png", all(os.path.exists(p) for p in want), got_names)
        first = rows[0].find_element(By.CSS_SELECTOR, "td a").get_attribute("href")
        _, _, expected = server.bearer("GET", first[len(server.url):])
        p0 = os.path.join(downloads, "batch0-style_comic.png")
        check("a downloaded batch result is the bytes of GET /result",
              os.path.exists(p0) and open(p0, "rb").read() == expected and expected)

        # A folder: its images only; canceled at once, then retried per row.
        folder = os.path.join(tmp, "folder")
        os.makedirs(folder)
        for i in range(2):
            make_png(os.path.join(folder, "shot%d.png" % i), 40, 32 + 8 * i)
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("not an image")
        by_id("batch-folder").send_keys(folder)
        wait.until(lambda d: "2 image(s) chosen" in text("batch-chosen"))
        check("a folder gives its 2 images (not the text file)", True)
        driver.execute_script("document.getElementById('batch-run').click();"
                              "document.getElementById('batch-cancel').click();")
        wait.until(lambda d: "2 of 2 done" in text("batch-status"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")
        states = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
        check("cancel all cancels the folder's rows", states == ["canceled", "canceled"], states)
        check("the file column names the folder path", rows[0].find_element(By.TAG_NAME, "td").text ==
              "folder/shot0.png", rows[0].find_element(By.TAG_NAME, "td").text)
        retry = rows[0].find_element(By.CSS_SELECTOR, "button.retry")
        check("a canceled row offers Retry", retry.is_displayed())
        retry.send_keys(Keys.ENTER)
        wait.until(lambda d: rows[0].find_elements(By.TAG_NAME, "td")[1].text in ("succeeded", "failed", "rejected"))
        st0 = rows[0].find_elements(By.TAG_NAME, "td")[1].text
        check("retry runs the row again and it succeeds", st0 == "succeeded", st0)
        check("overall progress counts the retried row", "1 succeeded, 1 to retry" in text("batch-status"),
              text("batch-status"))
        shots("batch")
        a11y("batch")

        # History and admin.
        driver.find_element(By.CSS_SELECTOR, ".tab[data-view=history]").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#history-table tbody tr")) >= 8)
        check("history lists the jobs", True)
        shots("history")
        a11y("history")
        driver.find_element(By.CSS_SELECTOR, ".tab[data-view=admin]").click()
        wait.until(lambda d: "dead-lettered" in text("admin-status"))
        check("admin view loads the dead-letter list", True)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-op-table tbody tr") and text("admin-ready"))
        op_rows = {r.find_element(By.TAG_NAME, "th").text: [c.text for c in r.find_elements(By.TAG_NAME, "td")]
                   for r in driver.find_elements(By.CSS_SELECTOR, "#queue-op-table tbody tr")}
        heads = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#queue-op-table thead th")]
        comic = dict(zip(heads[1:], op_rows.get("style_comic", [])))
        check("admin view: jobs per operation and state (style_comic succeeded >= 6)",
              int(comic.get("succeeded", "0")) >= 6, (heads, op_rows))
        state_heads = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#queue-state-table thead th")]
        check("admin view: jobs per state", state_heads[:2] == ["queued", "running"], state_heads)
        check("admin view: workers ready (from /readyz) and the operations served",
              text("admin-ready").startswith("Ready") and "style_comic" in text("admin-ready"), text("admin-ready"))
        check_admin_queue(server, os.path.join(tmp, "data"))
        shots("admin")
        a11y("admin")

        # No CSP or script errors in the console.
        logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        bad = [e["message"] for e in logs if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        check("no CSP violations or uncaught errors", not bad, bad)

        # Log out: the page and the old cookie are refused.
        sid = next(c["value"] for c in driver.get_cookies() if c["name"] == "imagen_session")
        by_id("logout").click()
        wait.until(lambda d: by_id("view-login").is_displayed())
        status = driver.execute_script(
            "const r = await fetch('/api/v1/jobs', {credentials: 'same-origin'}); return r.status;")
        check("after logout the API refuses the page", status == 401, status)
        s, _, _ = server.request("GET", "/api/v1/jobs", headers={"Cookie": "imagen_session=" + sid})
        check("after logout the old session id is refused", s == 401, s)
    finally:
        if driver:
            driver.quit()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("screenshots in " + OUT)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
