"""The public pages in a real browser: Debian's Chromium, headless, driven by
chromedriver over the W3C WebDriver protocol, with JavaScript switched OFF
and a phone-sized window.

The requirement it checks: the reply page works without login or script on
any phone browser, stores nothing on the device (no cookies,
Cache-Control: no-store) and accepts a changed answer while keeping the
history; the duty officer's approval link only shows a confirmation page
until its button is pressed.

Everything real: a private PostgreSQL 15, smtp-sink, anpid as built, a real
JMA document from ../shared/corpus.  Python standard library only (run with
/usr/bin/python3); prints TAP.  Chromium missing is a failure, not a skip:
scripts/install-deps.sh installs it.

Set ANPI_BROWSER_SHOTS=<dir> to keep a copy of the screenshots."""

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SHARED = os.environ.get("ANPI_SHARED") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")
SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
OFFICIAL = os.path.join(SHARED, "corpus", "jma", "official-samples")
# 2009-08-11 駿河湾: 静岡県 reaches 6-, so the shipped quake rule asks for approval.
QUAKE_DOC = os.path.join(OFFICIAL, "32-35_07_01_100915_VXSE51.xml")

CHROMIUM = os.environ.get("ANPI_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ANPI_CHROMEDRIVER", "/usr/bin/chromedriver")
PHONE = (390, 844)           # CSS pixels of a common phone screen
MIN_TAP = 44                 # smallest comfortable tap target, CSS pixels

# Synthetic people: one duty officer (東京), two staff in 静岡.
PEOPLE_CSV = """id,name,kana,emails,regions,groups
D1,試験 当直,しけん とうちょく,duty1@example.jp,13,duty-officers
S1,試験 太郎,しけん たろう,taro@example.jp,22,本省/総務課
S2,試験 花子,しけん はなこ,hanako@example.jp,22,本省/総務課
"""

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"

tap = harness.Tap(summary=True)
check = tap.check


# --- a minimal W3C WebDriver client -------------------------------------------

class WebDriverError(RuntimeError):
    def __init__(self, status, error, message):
        super().__init__("%s (HTTP %s): %s" % (error, status, message))
        self.error = error


class ChromeDriver:
    """chromedriver on a free loopback port and one headless Chromium session.
    Every request has a timeout; stop() ends the session and the driver."""

    def __init__(self, workdir, timeout=30):
        self.port = harness.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.logfile = os.path.join(workdir, "chromedriver.log")
        self.profile = os.path.join(workdir, "chromium-profile")
        os.makedirs(self.profile, exist_ok=True)
        self.session = None
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port,
                                      "--log-path=%s" % self.logfile],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        try:
            harness.wait_for(self._ready, timeout, what="chromedriver /status")
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": 20000, "script": 5000, "implicit": 0},
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             "--user-data-dir=" + self.profile,
                             "--window-size=%d,%d" % PHONE],
                    # Headless Chromium keeps a desktop window at least 500 px
                    # wide whatever --window-size says; device metrics give
                    # the page a real phone viewport (390 CSS px, mobile
                    # layout).  Touch emulation stays off: with it,
                    # chromedriver's element click never returns.
                    "mobileEmulation": {"deviceMetrics": {
                        "width": PHONE[0], "height": PHONE[1], "pixelRatio": 2.0,
                        "mobile": True, "touch": False}},
                    # 2 = block: the pages must work with no script at all.
                    "prefs": {"profile.managed_default_content_settings.javascript": 2},
                }}}}
            value = self._call("POST", "/session", caps, timeout=60)
            self.session = value["sessionId"]
        except Exception:
            self.stop()
            raise

    def _ready(self):
        if self.proc.poll() is not None:
            raise harness.HarnessError("chromedriver exited with %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=2) as r:
                return json.load(r)["value"].get("ready")
        except (OSError, ValueError):
            return False

    def _call(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r).get("value")
        except urllib.error.HTTPError as e:
            with e:
                try:
                    v = json.load(e).get("value") or {}
                except ValueError:
                    v = {}
            raise WebDriverError(e.code, v.get("error", "?"), v.get("message", "")[:500])

    def cmd(self, method, path, body=None, timeout=30):
        return self._call(method, "/session/%s%s" % (self.session, path), body, timeout)

    # navigation and page
    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def url(self):
        return self.cmd("GET", "/url")

    def source(self):
        return self.cmd("GET", "/source")

    def cookies(self):
        return self.cmd("GET", "/cookie")

    def screenshot(self):
        return base64.b64decode(self.cmd("GET", "/screenshot"))

    # elements
    def find_all(self, css, within=None):
        path = ("/element/%s/elements" % within) if within else "/elements"
        return [e[ELEMENT_KEY] for e in self.cmd("POST", path, {"using": "css selector", "value": css})]

    def find(self, css, within=None):
        found = self.find_all(css, within)
        return found[0] if found else None

    def wait(self, css, timeout=10, what=None):
        def look():
            try:
                return self.find(css)
            except WebDriverError as e:
                # a page still loading: look again
                if "does not belong to the document" in str(e) or e.error == "stale element reference":
                    return None
                raise
        return harness.wait_for(look, timeout, what=what or css)

    def text(self, el):
        return self.cmd("GET", "/element/%s/text" % el)

    def prop(self, el, name):
        return self.cmd("GET", "/element/%s/property/%s" % (el, name))

    def rect(self, el):
        return self.cmd("GET", "/element/%s/rect" % el)

    def click(self, el):
        self.cmd("POST", "/element/%s/click" % el, {})

    def element_screenshot(self, el):
        return base64.b64decode(self.cmd("GET", "/element/%s/screenshot" % el))

    def stale(self, el):
        try:
            self.cmd("GET", "/element/%s/name" % el)
            return False
        except WebDriverError as e:
            # while the old page is being replaced Chromium may also say
            # "Node with given id does not belong to the document"
            if e.error in ("stale element reference", "no such element") or \
                    "does not belong to the document" in str(e):
                return True
            raise

    def submit_and_wait(self, button, css, timeout=15):
        """Click a submit button and wait for the next page's `css` element:
        the old page must be gone first, so a match on it cannot count."""
        old = self.find("html")
        self.click(button)
        harness.wait_for(lambda: self.stale(old), timeout, what="the form's answer page")
        return self.wait(css, timeout)

    def stop(self):
        if self.session:
            try:
                self.cmd("DELETE", "", timeout=20)
            except Exception:  # the driver may be gone already; it is stopped below
                pass
            self.session = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- helpers -------------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def links(sink, address, kind):
    found = []
    for rcpts, msg in sink.messages():
        if address not in rcpts:
            continue
        body = msg.get_body(preferencelist=("plain",))
        found += re.findall(r"(http://[0-9.:]+/%s/[A-Za-z0-9_-]+)" % kind, body.get_content())
    return found


def http(url, data=None):
    """(status, body, headers as a list of (name, value)) without a browser."""
    s, text, headers = harness.form_request(url, data)
    return s, text, headers.items()


def header(items, name):
    return [v for k, v in items if k.lower() == name.lower()]


def incident(api):
    s, j = api.get("/api/v1/incidents")
    assert s == 200, (s, j)
    assert len(j["incidents"]) == 1, j
    return j["incidents"][0]


def settle(anpid, sink, timeout=15):
    """Wait until nothing is queued and the sink's count is stable."""
    harness.settle(anpid, sink, timeout, quiet_s=0.5)


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def save_shot(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    keep = os.environ.get("ANPI_BROWSER_SHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, name))
    return path


def page_questions(wd):
    """[(question id, legend, [(choice, label element, input element)])] as
    the browser sees the form."""
    out = []
    for fs in wd.find_all("form fieldset"):
        legend = wd.find("legend", fs)
        choices = []
        qid = None
        for label in wd.find_all("label", fs):
            inp = wd.find("input[type=radio]", label)
            if inp is None:
                continue
            qid = wd.prop(inp, "name")
            choices.append((wd.prop(inp, "value"), label, inp))
        out.append((qid, wd.text(legend) if legend else "", choices))
    return out


def choose(wd, questions, picks):
    """Click the label of each picked choice; returns what the radios say."""
    for qid, _legend, choices in questions:
        if qid not in picks:
            continue
        for value, label, _inp in choices:
            if value == picks[qid]:
                wd.click(label)
    return {qid: [v for v, _l, inp in choices if wd.prop(inp, "checked")]
            for qid, _legend, choices in questions}


def tally(api, bid):
    s, b = api.get("/api/v1/broadcasts/%d" % bid)
    assert s == 200, (s, b)
    return b


# --- the test ------------------------------------------------------------------

def run(tmp):
    for prog in (CHROMIUM, CHROMEDRIVER):
        if not check(os.access(prog, os.X_OK),
                     "%s is installed (Debian packages chromium, chromium-driver; "
                     "scripts/install-deps.sh)" % prog):
            return
    fonts = subprocess.run(["fc-list", ":lang=ja", "family"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20).stdout.decode(errors="replace")
    check(fonts.strip(), "a font with Japanese glyphs is installed (fc-list :lang=ja)", fonts)

    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        csv_path = os.path.join(tmp, "people.csv")
        with open(csv_path, "w", encoding="utf-8") as f:
            f.write(PEOPLE_CSV)
        cfg = harness.base_config(pg, sink, directory={"import": csv_path})
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "anpid"))
        api = anpid.api
        s, j = api.post("/api/v1/feeds/jma/documents?replay=1", body=read(QUAKE_DOC),
                        content_type="application/xml")
        check(s == 202, "the 駿河湾 report is accepted (202)", (s, j))
        inc = incident(api)
        check(inc["status"] == "pending_approval", "one incident, waiting for approval", inc)
        settle(anpid, sink)
        approve_links = links(sink, "duty1@example.jp", "a")
        check(approve_links, "the duty officer got an approve link",
              [str(m["subject"]) for _r, m in sink.messages()])

        wd = ChromeDriver(tmp)
        try:
            # JavaScript really is off in this browser: a <noscript> renders.
            wd.get("data:text/html;charset=utf-8,<p id=on>x</p><noscript><p id=off>JS off</p></noscript>")
            off = wd.find("#off")
            check(off and wd.text(off) == "JS off", "JavaScript is disabled in the browser")

            browser_approval(wd, api, approve_links[0], tmp)
            settle(anpid, sink)
            reply = links(sink, "taro@example.jp", "r")
            check(len(reply) == 1, "試験 太郎 got one reply link", reply)
            if reply:
                browser_reply(wd, api, reply[0], tmp)
        except Exception:
            print("# --- chromedriver.log (tail) ---\n" + "".join(
                "# " + l for l in harness._tail(wd.logfile, 30).splitlines(True)), flush=True)
            raise
        finally:
            wd.stop()
        check(anpid.stop() == 0, "anpid stops cleanly")


def browser_approval(wd, api, link, tmp):
    wd.get(link)
    button = wd.wait("form button[type=submit]", what="the approve button")
    h1 = wd.find("h1")
    check(h1 and "承認" in wd.text(h1) and "<form" in wd.source(),
          "the approve link shows a confirmation page with a button", wd.source()[-600:])
    check(incident(api)["status"] == "pending_approval", "merely opening the approve link approved nothing")
    r = wd.rect(button)
    check(r["height"] >= MIN_TAP, "the approve button is a big tap target (%dx%d)" % (r["width"], r["height"]), r)

    notice = wd.submit_and_wait(button, "p.notice")
    text = wd.text(notice)
    check("承認しました" in text, "pressing the button shows the approval notice", text)
    check(not wd.find("form button[type=submit]"), "a decided approval offers no button again")
    inc = harness.wait_for(lambda: (lambda i: i["status"] == "dispatched" and i)(incident(api)),
                           15, what="incident dispatched")
    check(inc and inc["approvals"][0]["decisions"][0]["via"] == "link",
          "the incident is dispatched, decided through the link", inc)
    check(wd.cookies() == [], "no cookie stored by the approval page", wd.cookies())

    s, page, hdrs = http(link)
    check(s == 200 and header(hdrs, "Cache-Control") == ["no-store"] and not header(hdrs, "Set-Cookie"),
          "the approval page is sent no-store and sets no cookie", hdrs)


def browser_reply(wd, api, link, tmp):
    inc = incident(api)
    bid = inc["broadcasts"][0]
    before = tally(api, bid)

    wd.get(link)
    wd.wait("form button[type=submit]", what="the reply form")
    body = wd.text(wd.find("body"))
    check("試験 太郎 さん" in body, "the reply page greets the person by name", body[:400])
    questions = page_questions(wd)
    api_q = {q: set(c) for q, c in before["answers"].items()}
    page_q = {q: {v for v, _l, _i in c} for q, _legend, c in questions}
    check(questions and page_q == api_q and all(legend for _q, legend, _c in questions),
          "every question of the broadcast is a fieldset of radio buttons with a legend",
          "page %s\napi %s" % (page_q, api_q))
    if not questions or page_q != api_q:
        return
    short = [(v, wd.rect(l)) for _q, _lg, c in questions for v, l, _i in c
             if wd.rect(l)["height"] < MIN_TAP or wd.rect(l)["width"] < PHONE[0] * 0.7]
    check(not short, "each choice is a full-width label at least %d px high" % MIN_TAP, short)
    html = wd.rect(wd.find("html"))
    boxes = [wd.rect(e) for e in wd.find_all("h1, p, fieldset, label, textarea, button")]
    over = [r for r in boxes if r["x"] < 0 or r["x"] + r["width"] > PHONE[0]]
    check(html["width"] == PHONE[0] and boxes and not over,
          "the page is laid out %d px wide and nothing sticks out sideways" % PHONE[0], (html, over))
    check(wd.find_all("script") == [] and "<script" not in wd.source().lower(),
          "the reply page has no <script>")

    # first answer: the first choice of every question, picked by tapping labels
    first = {q: c[0][0] for q, _lg, c in questions}
    checked = choose(wd, questions, first)
    check(checked == {q: [v] for q, v in first.items()}, "tapping a label selects its radio button", checked)
    notice = wd.submit_and_wait(wd.find("form button[type=submit]"), "p.notice")
    text = wd.text(notice)
    check("受け付けました" in text, "submitting shows the accepted notice", text)
    b = tally(api, bid)
    check(b["answered"] == before["answered"] + 1
          and all(b["answers"][q][v] == before["answers"][q][v] + 1 for q, v in first.items()),
          "the tally counts the browser's answer", b["answers"])
    check(wd.cookies() == [], "no cookie stored by the reply page", wd.cookies())

    # open the link again, change the first question's answer
    wd.get(link)
    wd.wait("form button[type=submit]", what="the reply form again")
    questions = page_questions(wd)
    shown = {q: [v for v, _l, i in c if wd.prop(i, "checked")] for q, _lg, c in questions}
    check(shown == {q: [v] for q, v in first.items()}, "the reopened page shows the current answers", shown)
    q1, _lg, c1 = questions[0]
    old, new = c1[0][0], c1[-1][0]
    checked = choose(wd, questions, {q1: new})
    check(checked[q1] == [new], "a different choice can be tapped", checked)
    png = wd.screenshot()
    size = png_size(png)
    path = save_shot(tmp, "reply-page.png", png)
    check(size and size[0] == PHONE[0] * 2 and size[0] < size[1],
          "a phone-sized screenshot of the reply page is saved (%s, %s)" % (path, size), size)
    notice = wd.submit_and_wait(wd.find("form button[type=submit]"), "p.notice")
    check("受け付けました" in wd.text(notice), "the changed answer is accepted")
    b2 = tally(api, bid)
    check(b2["answered"] == b["answered"] and b2["answers"][q1][old] == b["answers"][q1][old] - 1
          and b2["answers"][q1][new] == b["answers"][q1][new] + 1,
          "the tally follows the changed answer (%s -> %s), still one person" % (old, new), b2["answers"])
    items = [wd.text(li) for li in wd.find_all("section.history li")]
    q1text = [q["text"] for q in b2["questions"] if q["id"] == q1][0]
    check(any("%s: %s" % (q1text, old) in t for t in items) and any("%s: %s" % (q1text, new) in t for t in items),
          "the page lists the history (by question text) with the old and the new answer", items)
    hist = wd.find("section.history")
    if hist:
        save_shot(tmp, "reply-history.png", wd.element_screenshot(hist))
    check(wd.cookies() == [], "still no cookie after changing the answer", wd.cookies())
    check(wd.url() == link, "the browser stays on the reply link (no redirect, no login)", wd.url())

    # the headers the browser got, checked alongside without it
    s, page, hdrs = http(link)
    check(s == 200 and header(hdrs, "Cache-Control") == ["no-store"] and not header(hdrs, "Set-Cookie")
          and "<script" not in page.lower(),
          "GET on the reply link: Cache-Control: no-store, no Set-Cookie, no script", hdrs)
    form = urllib.parse.urlencode({q1: new}).encode()
    s, page, hdrs = http(link, form)
    check(s == 200 and header(hdrs, "Cache-Control") == ["no-store"] and not header(hdrs, "Set-Cookie"),
          "POST on the reply link: Cache-Control: no-store, no Set-Cookie", hdrs)


def main():
    started = time.monotonic()
    with harness.scratch_dir("anpi-browser-", 0o755) as tmp:
        tap.attempt(run, tmp, "the browser test")
    print("# %.1f s" % (time.monotonic() - started))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
