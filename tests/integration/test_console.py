"""The admin console: sign-in with login CSRF, session cookies, CSRF on every
state-changing form, the forced change of an initial password, sign-out,
idle and absolute timeouts, foreign cookies, a disabled account, a system
admin's TOTP, and the per-group tally a group admin sees.

Plain http.client for the header and CSRF checks (no redirects followed, the
cookies handled by hand), and one real sign-in in headless Chromium
(chromedriver, JavaScript off, phone-sized window) as test_browser.py does.

Real PostgreSQL 15 and anpid as built; mail goes to an outbox directory.
Synthetic directory only (試験 names, example.jp).  Prints TAP."""

import base64
import hashlib
import hmac
import html
import http.client
import os
import re
import struct
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

PEOPLE_CSV = """id,name,kana,emails,regions,groups
C1,試験 総務,しけん そうむ,c1@example.jp,13,本省/総務課
C2,試験 庶務,しけん しょむ,c2@example.jp,13,本省/総務課/庶務係
C3,試験 東北,しけん とうほく,c3@example.jp,04,地方/東北
C4,試験 東北二,しけん とうほくに,c4@example.jp,04,地方/東北
"""
QUESTIONS = [{"id": "safety", "text": "ご自身の状況", "choices": ["無事", "軽傷", "重傷"]}]
SUBJECT = "試験 <b>安否</b> & 確認"
PASSWORD = "Initial-Pass-2024!"
NEW_PASSWORD = "Kawaru-Pass-9876#"
SESSION_MAX = 3 * 3600

tap = harness.Tap()
check = tap.check


# --- a small cookie-keeping client that never follows redirects ---------------

class Resp:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.getheaders()
        self.body = r.read().decode("utf-8", errors="replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def __repr__(self):
        return "%d %s\n%s" % (self.status, self.headers, self.body[:1500])


class Browser:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.jar = {}

    def request(self, method, path, form=None, headers=None, cookies=None):
        hdrs = dict(headers or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        jar = self.jar if cookies is None else cookies
        if jar:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        c = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = Resp(c.getresponse())
        finally:
            c.close()
        if cookies is None:
            for sc in r.cookies():
                name, _, rest = sc.partition("=")
                value = rest.split(";", 1)[0]
                if re.search(r"Max-Age=0(;|$)", sc):
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)


def hidden(body, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), body)
    return html.unescape(m.group(1)) if m else None


def error_text(body):
    m = re.search(r'<p class="error"[^>]*>(.*?)</p>', body, re.S)
    return m.group(1) if m else None


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    step = int((at if at is not None else time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def sign_in(base, login, password, code=None):
    """A fresh browser through the sign-in form; returns (browser, response)."""
    b = Browser(base)
    form = b.get("/console/login")
    fields = {"login_csrf": hidden(form.body, "login_csrf") or "", "login": login, "password": password}
    if code is not None:
        fields["totp"] = code
    return b, b.post("/console/login", fields)


def security_headers_ok(r):
    csp = r.header("Content-Security-Policy") or ""
    return (r.header("Cache-Control") == "no-store" and r.header("X-Frame-Options") == "DENY"
            and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            and "form-action 'self'" in csp and r.header("Referrer-Policy") == "no-referrer"
            and (r.header("Content-Type") or "").startswith("text/html"))


def run(tmp):
    with harness.PgCluster(tmp) as pg:
        outbox = os.path.join(tmp, "outbox")
        os.makedirs(outbox, exist_ok=True)
        cfg = harness.base_config(pg, outbox=outbox)
        cfg["log"] = {"level": "info"}
        cfg["accounts"] = {"session_idle": "60s", "session_max": "%ds" % SESSION_MAX}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api
        base = anpid.admin_url

        s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV.encode(), content_type="text/csv")
        check(s == 200, "the synthetic directory is imported", (s, j))
        gid = dict(line.split("|")[::-1] for line in pg.psql("SELECT id, path FROM groups").split("\n"))
        s, j = api.post("/api/v1/broadcasts", body={
            "subject": SUBJECT, "body": "安否を回答してください。", "questions": QUESTIONS,
            "audience": {"groups": [int(gid["本省"]), int(gid["地方"])], "subgroups": True}})
        check(s == 201 and j.get("id"), "a broadcast to 本省 and 地方", (s, j))
        bid = j.get("id") or 0
        # C1 answers 無事, C3 answers 軽傷; C2 and C4 do not answer.
        pg.psql("UPDATE recipients SET answered_at = now() WHERE broadcast_id = %d AND person_id IN ('C1', 'C3');"
                "INSERT INTO responses (recipient_id, question_id, choice)"
                " SELECT id, 'safety', CASE person_id WHEN 'C1' THEN '無事' ELSE '軽傷' END FROM recipients"
                " WHERE broadcast_id = %d AND person_id IN ('C1', 'C3')" % (bid, bid))

        def account(login, role, groups=(), must_change=False):
            s, j = api.post("/api/v1/accounts", body={"login": login, "password": PASSWORD, "role": role,
                                                      "groups": [int(g) for g in groups],
                                                      "must_change": must_change})
            check(s == 201, "account %s (%s) is created" % (login, role), (s, j))
            return j if isinstance(j, dict) else {}

        account("duty1", "duty-officer")
        account("newbie", "duty-officer", must_change=True)
        account("soumu", "group-admin", groups=[gid["本省/総務課"]])
        account("leaver", "viewer")
        account("phone1", "viewer", must_change=True)
        sa = account("root1", "system-admin")

        # --- the sign-in page -------------------------------------------------
        b = Browser(base)
        r = b.get("/console/")
        check(r.status == 303 and r.header("Location") == "/console/login",
              "no session: /console/ sends the browser to the sign-in form", r)
        r = b.get("/console/broadcasts/%d" % bid)
        check(r.status == 303 and r.header("Location") == "/console/login",
              "no session: a tally page sends the browser to the sign-in form too", r)
        r = b.get("/console/login")
        check(r.status == 200 and security_headers_ok(r),
              "the sign-in page: no-store, DENY, CSP (default-src 'none', form-action 'self', "
              "frame-ancestors 'none'), no-referrer", r.headers)
        pre = [c for c in r.cookies() if c.startswith("anpi_login=")]
        check(len(pre) == 1 and all(a in pre[0] for a in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/",
                                                           "Max-Age=")),
              "a short-lived pre-session cookie is set for the login CSRF check", r.cookies())
        login_csrf = hidden(r.body, "login_csrf")
        check(login_csrf and re.fullmatch(r"[0-9a-f]{64}", login_csrf) and login_csrf != b.jar.get("anpi_login"),
              "the form carries an HMAC of that cookie, not the cookie itself", login_csrf)
        check("<script" not in r.body and "http://" not in r.body and "https://" not in r.body,
              "the page has no script and no external assets")

        # --- login CSRF ------------------------------------------------------
        r = b.post("/console/login", {"login": "duty1", "password": PASSWORD})
        check(r.status == 403 and "anpi_session" not in b.jar and "CSRF" in r.body,
              "sign-in without the login_csrf field: 403 with the reason, no session", r)
        r = b.post("/console/login", {"login_csrf": "0" * 64, "login": "duty1", "password": PASSWORD})
        check(r.status == 403 and "anpi_session" not in b.jar, "sign-in with a wrong login_csrf: 403, no session", r)
        r = b.post("/console/login", {"login_csrf": hidden(b.get("/console/login").body, "login_csrf"),
                                      "login": "duty1", "password": PASSWORD}, cookies={})
        check(r.status == 403 and not any(c.startswith("anpi_session=") for c in r.cookies()),
              "sign-in with the field but without the pre-session cookie (a cross-site post): 403", r)
        n_sessions = pg.psql("SELECT count(*) FROM sessions")
        check(n_sessions == "0", "no session row was made by the refused posts", n_sessions)

        # --- wrong password, unknown login: the same answer --------------------
        _b, r1 = sign_in(base, "duty1", "Wrong-Pass-0000!")
        _b, r2 = sign_in(base, "nobody-here", "Wrong-Pass-0000!")
        check(r1.status == 401 and r2.status == 401 and not any(c.startswith("anpi_session=") for c in
                                                                 r1.cookies() + r2.cookies()),
              "a wrong password and an unknown login: 401 and the form again, no session", (r1, r2))
        check(error_text(r1.body) and error_text(r1.body) == error_text(r2.body),
              "…with the same message, never saying whether the login exists",
              (error_text(r1.body), error_text(r2.body)))
        check('value="duty1"' in r1.body, "…and the login typed is filled in again")
        pg.psql("DELETE FROM auth_throttle")

        # --- a good sign-in -----------------------------------------------------
        duty, r = sign_in(base, "duty1", PASSWORD)
        sc = [c for c in r.cookies() if c.startswith("anpi_session=")]
        check(r.status == 303 and r.header("Location") == "/console/", "duty1 signs in: 303 to /console/", r)
        check(len(sc) == 1 and all(a in sc[0] for a in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/",
                                                         "Max-Age=%d" % SESSION_MAX)),
              "the session cookie: HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age = accounts.session_max", sc)
        token = duty.jar.get("anpi_session", "")
        stored = pg.psql("SELECT hash FROM sessions")
        check(re.fullmatch(r"anpi_[A-Za-z0-9_-]{43}", token)
              and stored == hashlib.sha256(token.encode()).hexdigest(),
              "only the SHA-256 of the cookie value is stored", (token, stored))
        r = duty.get("/console/")
        check(r.status == 200 and security_headers_ok(r) and "duty1" in r.body and "duty-officer" in r.body,
              "the home page says who is signed in, with the console headers", r)
        check("&lt;b&gt;安否&lt;/b&gt; &amp; 確認" in r.body and "<b>安否</b>" not in r.body,
              "the recent broadcasts are listed, the subject escaped", r.body[-1500:])
        check(re.search(r"回答 2 / 4（50\.0%）", r.body), "…with the answer rate", r.body[-1500:])
        check('href="/console/broadcasts/%d"' % bid in r.body, "…linking to the tally page")
        csrf = hidden(r.body, "csrf")
        check(csrf and csrf == pg.psql("SELECT csrf FROM sessions"),
              "the sign-out form carries the session's CSRF token", csrf)

        r = duty.get("/console/broadcasts/%d" % bid)
        check(r.status == 200 and security_headers_ok(r), "the tally page answers 200", r)
        check("本省/総務課" in r.body and "地方/東北" in r.body, "a duty officer sees every group's row", r.body)
        m = re.search(r"<h3>地方/東北</h3>\n<p>[^<]*回答 <b class=\"answered\">(\d+)</b>[^<]*<b class=\"unanswered\">"
                      r"(\d+)</b>", r.body)
        check(m and m.groups() == ("1", "1"), "地方/東北: answered 1, unanswered 1", m and m.groups())
        sec = r.body[r.body.find("<h3>地方/東北</h3>"):]
        sec = sec[:sec.find("</section>")]
        check("<li>無事: 0</li>" in sec and "<li>軽傷: 1</li>" in sec and "<li>重傷: 0</li>" in sec,
              "…and the count per choice", sec)
        check('<meta http-equiv="refresh"' not in r.body and "?live=1" in r.body,
              "the tally page offers a live view and does not reload by itself", r.body[:400])
        r = duty.get("/console/broadcasts/%d?live=1" % bid)
        check(r.status == 200 and '<meta http-equiv="refresh" content="30">' in r.body
              and "/message\"" not in r.body and "自動更新を止める" in r.body,
              "?live=1 reloads every 30 s, without forms that a reload would lose", r.body[:600])
        r = duty.get("/console/broadcasts/999999")
        check(r.status == 404 and "text/html" in (r.header("Content-Type") or ""),
              "an unknown broadcast: a 404 page", r)

        # --- CSRF on state-changing forms -------------------------------------
        before = pg.psql("SELECT password_hash FROM accounts WHERE login = 'duty1'")
        form = {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        r = duty.post("/console/password", form)
        check(r.status == 403 and "CSRF" in r.body and "text/html" in (r.header("Content-Type") or ""),
              "a password change without the csrf field: 403 page", r)
        r = duty.post("/console/password", dict(form, csrf="x" * len(csrf)))
        check(r.status == 403, "a password change with a wrong csrf: 403", r)
        r = duty.post("/console/logout", {})
        check(r.status == 403 and duty.get("/console/").status == 200,
              "sign-out without csrf: 403, the session lives on", r)
        check(pg.psql("SELECT password_hash FROM accounts WHERE login = 'duty1'") == before,
              "nothing was changed by the refused posts")
        r = duty.post("/console/password", dict(form, csrf=csrf), headers={"X-CSRF-Token": "wrong"})
        check(r.status == 403, "a wrong X-CSRF-Token header is not rescued by a right form field", r)

        # --- the forced change of an initial password ---------------------------
        nb, r = sign_in(base, "newbie", PASSWORD)
        check(r.status == 303 and r.header("Location") == "/console/password",
              "an initial password: sign-in leads to the password form", r)
        for path in ("/console/", "/console/broadcasts/%d" % bid):
            r = nb.get(path)
            check(r.status == 303 and r.header("Location") == "/console/password",
                  "%s redirects to the password form until it is changed" % path, r)
        r = nb.get("/api/v1/broadcasts")
        check(r.status == 403, "the API refuses the session too (403) until it is changed", r)
        r = nb.get("/console/password")
        ncsrf = hidden(r.body, "csrf")
        check(r.status == 200 and "初期パスワード" in r.body and ncsrf, "the form explains why", r)
        r = nb.post("/console/password", {"csrf": ncsrf, "current": PASSWORD, "new": NEW_PASSWORD,
                                          "repeat": NEW_PASSWORD + "x"})
        check(r.status == 400 and error_text(r.body), "two different new passwords: 400 with the reason", r)
        r = nb.post("/console/password", {"csrf": ncsrf, "current": "Not-The-One-123!", "new": NEW_PASSWORD,
                                          "repeat": NEW_PASSWORD})
        check(r.status == 403 and "現在のパスワード" in (error_text(r.body) or ""),
              "a wrong current password: 403 with the reason", r)
        r = nb.post("/console/password", {"csrf": ncsrf, "current": PASSWORD, "new": "short",
                                          "repeat": "short"})
        check(r.status == 400 and error_text(r.body), "a weak new password: 400 with the policy's reason",
              error_text(r.body))
        r = nb.post("/console/password", {"csrf": ncsrf, "current": PASSWORD, "new": NEW_PASSWORD,
                                          "repeat": NEW_PASSWORD})
        check(r.status == 303 and r.header("Location") == "/console/?changed=1", "the change: 303 home", r)
        check(pg.psql("SELECT must_change FROM accounts WHERE login = 'newbie'") == "f",
              "…the account no longer must change")
        r = nb.get("/console/?changed=1")
        check(r.status == 200 and "パスワードを変更しました" in r.body, "…and the home page opens with a notice", r)
        pg.psql("DELETE FROM auth_throttle")

        # --- sign-out ----------------------------------------------------------
        old = dict(duty.jar)
        r = duty.post("/console/logout", {"csrf": csrf})
        check(r.status == 303 and r.header("Location") == "/console/login?bye=1"
              and any(c.startswith("anpi_session=") and "Max-Age=0" in c for c in r.cookies()),
              "sign-out: 303 to the sign-in form, the cookie expired", r)
        check(pg.psql("SELECT revoked_at IS NOT NULL FROM sessions s JOIN accounts a ON a.id = s.account_id"
                      " WHERE a.login = 'duty1'") == "t", "…and the session revoked in the database")
        r = duty.get("/console/", cookies=old)
        check(r.status == 401 and "text/html" in (r.header("Content-Type") or "") and "sign in again" in r.body
              and 'href="/console/login"' in r.body, "the old cookie is dead: 401 page with a way to sign in", r)
        r = duty.get("/api/v1/account", cookies=old)
        check(r.status == 401, "…and the API refuses it too", r)
        check(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'auth.signout'") == "1",
              "the sign-out is audited")

        # --- timeouts (accounts.session_idle 60s) -------------------------------
        idle, r = sign_in(base, "duty1", PASSWORD)
        sid = pg.psql("SELECT max(id) FROM sessions")
        pg.psql("UPDATE sessions SET last_seen = now() - interval '45 seconds' WHERE id = %s" % sid)
        check(idle.get("/console/").status == 200, "a session used 45 s ago is alive (idle limit 60 s)")
        pg.psql("UPDATE sessions SET last_seen = now() - interval '61 seconds' WHERE id = %s" % sid)
        r = harness.after_notify(lambda: (lambda r: r.status == 401 and r)(idle.get("/console/")))
        check(r, "idle for 61 s: the session is over (once notified)", r)
        abs_, r = sign_in(base, "duty1", PASSWORD)
        sid = pg.psql("SELECT max(id) FROM sessions")
        pg.psql("UPDATE sessions SET created_at = now() - interval '%d seconds' + interval '30 seconds'"
                " WHERE id = %s" % (SESSION_MAX, sid))
        check(abs_.get("/console/").status == 200, "a session 30 s short of accounts.session_max is alive")
        pg.psql("UPDATE sessions SET created_at = now() - interval '%d seconds' - interval '1 second',"
                " last_seen = now() WHERE id = %s" % (SESSION_MAX, sid))
        r = harness.after_notify(lambda: (lambda r: r.status == 401 and r)(abs_.get("/console/")))
        check(r, "past accounts.session_max, even when in use: the session is over (once notified)", r)

        # --- cookies from elsewhere ---------------------------------------------
        foreign = "anpi_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        foreign = foreign[:-1] + "A"        # a canonical last character
        r = Browser(base).get("/console/", cookies={"anpi_session": foreign})
        check(r.status == 401 and "unknown here" in r.body, "a well-formed cookie this server never issued: 401 "
              "with a clear message", r)
        r = Browser(base).get("/console/", cookies={"anpi_session": "s%3Aj%2Fother.server-cookie"})
        check(r.status == 401 and "not issued here" in r.body
              and any(c.startswith("anpi_session=") and "Max-Age=0" in c for c in r.cookies()),
              "a malformed (another product's) cookie: 401 'not issued here', and it is cleared", r)
        r = Browser(base).get("/api/v1/account", cookies={"anpi_session": "x" * 5000})
        check(r.status == 401, "an oversized cookie is refused, not truncated into something", r)

        # --- a disabled account's session dies at once --------------------------
        lv, r = sign_in(base, "leaver", PASSWORD)
        check(lv.get("/console/").status == 200, "leaver is signed in")
        s, j = api.post("/api/v1/accounts/leaver/disable", body={})
        check(s == 200, "leaver is disabled through the API", (s, j))
        r = lv.get("/console/")
        check(r.status == 401, "…and the next page of its session is refused", r)
        pg.psql("DELETE FROM auth_throttle")

        # --- a group admin sees only its groups' rows ---------------------------
        ga, r = sign_in(base, "soumu", PASSWORD)
        check(r.status == 303, "the group admin signs in", r)
        r = ga.get("/console/broadcasts/%d" % bid)
        check(r.status == 200 and "本省/総務課" in r.body and "本省/総務課/庶務係" in r.body,
              "the group admin's tally shows its group and the one below", r)
        check("地方/東北" not in r.body and "<h3>地方</h3>" not in r.body,
              "…and no row of any other group", r.body)
        r = ga.get("/console/")
        check(r.status == 200 and 'href="/console/broadcasts/%d"' % bid in r.body,
              "the broadcast reaching its people is on its home page", r)

        # --- the people lists page by page (100 per page, ID order) ---------------
        many = "".join("P%04d,試験 多数%d,しけん たすう,p%04d@example.jp,13,本省/総務課/庶務係\n" % (i, i, i)
                       for i in range(1, 231))
        s, j = api.post("/api/v1/people/import", body=(PEOPLE_CSV + many).encode(), content_type="text/csv")
        check(s == 200, "230 more people in 本省/総務課/庶務係 are imported", (s, j))
        s, j = api.post("/api/v1/broadcasts", body={
            "subject": "試験 大人数", "body": "安否を回答してください。", "questions": QUESTIONS,
            "audience": {"groups": [int(gid["本省/総務課"])], "subgroups": True}})
        big = j.get("id") or 0
        check(s == 201 and big, "a broadcast to 本省/総務課 and below: 232 people", (s, j))

        def unanswered_page(query):
            r = ga.get("/console/broadcasts/%d%s" % (big, query))
            m = re.search(r'<ul class="p unanswered-people">(.*?)</ul>', r.body, re.S)
            ids = re.findall(r'<span class="muted pid">([^<]+)</span>', m.group(1)) if m else []
            nxt = re.search(r'rel="next" href="([^"]+)"', r.body)
            prv = re.search(r'rel="prev" href="([^"]+)"', r.body)
            return r, ids, html.unescape(nxt.group(1)) if nxt else None, html.unescape(prv.group(1)) if prv else None

        everyone = ["C1", "C2"] + ["P%04d" % i for i in range(1, 231)]
        r, ids1, nxt, prv = unanswered_page("")
        check(r.status == 200 and ids1 == everyone[:100] and "1〜100 人目" in r.body and "全 232 人" in r.body
              and nxt == "/console/broadcasts/%d?u=100&a=0" % big and prv is None,
              "page 1 of the unanswered: the first 100 by ID, a link to the next page", (ids1[:3], nxt, prv))
        r, ids2, nxt, prv = unanswered_page(nxt[len("/console/broadcasts/%d" % big):] if nxt else "")
        check(ids2 == everyone[100:200] and "101〜200 人目" in r.body
              and nxt == "/console/broadcasts/%d?u=200&a=0" % big and prv == "/console/broadcasts/%d?u=0&a=0" % big,
              "page 2: the next 100, links back and on", (ids2[:3], nxt, prv))
        r, ids3, nxt, prv = unanswered_page("?u=200&a=0&live=1")
        check(ids3 == everyone[200:] and "201〜232 人目" in r.body and nxt is None
              and prv == "/console/broadcasts/%d?u=100&a=0&live=1" % big,
              "the last page: 32 people, no next link; the live view keeps its pages live", (len(ids3), nxt, prv))
        r, ids, nxt, prv = unanswered_page("?u=5000")
        check(r.status == 200 and ids == [] and "このページには誰もいません" in r.body
              and 'rel="first" href="/console/broadcasts/%d?u=0&amp;a=0"' % big in r.body,
              "a page past the end says so and links to the first page", r.body[-600:])
        r, ids, nxt, prv = unanswered_page("?u=-5&a=x%27")
        check(r.status == 200 and ids == everyone[:100], "an offset that is not a row number shows the first page")

        # --- the per-group rows come from the tally cache shared with the API ----
        def somu_answered():
            body = ga.get("/console/broadcasts/%d" % big).body
            m = re.search(r'<h3>本省/総務課</h3>\n<p>対象 (\d+) ・ 回答 <b class="answered">(\d+)</b>', body)
            return (int(m.group(1)), int(m.group(2))) if m else None
        first = somu_answered()
        stale, tries, seen = harness.served_stale(
            somu_answered, lambda i: pg.psql("UPDATE recipients SET answered_at = now() WHERE broadcast_id = %d"
                                             " AND person_id = 'P%04d'" % (big, i + 1)), 4)
        fresh = harness.eventually(lambda: somu_answered() == (232, tries), 10)
        check(first == (232, 0) and stale and fresh,
              "the console's group rows come from the shared count: an answer stored behind anpid's back "
              "is not counted at once (the SQL path would count it), then shows", (first, seen, fresh))
        s, j = api.get("/api/v1/broadcasts/%d/groups" % big)
        row = next((g for g in j.get("groups", []) if g.get("path") == "本省/総務課"), {})
        check((row.get("recipients"), row.get("answered")) == somu_answered(),
              "…and the console and the API show the same counts", (row, somu_answered()))

        # --- a system admin needs the TOTP code ----------------------------------
        secret = sa.get("totp_secret")
        check(secret, "a system admin account comes with a TOTP secret", sa)
        _b, r = sign_in(base, "root1", PASSWORD)
        check(r.status == 401 and not any(c.startswith("anpi_session=") for c in r.cookies()),
              "a system admin without the code: refused", r)
        pg.psql("DELETE FROM auth_throttle")
        root, r = sign_in(base, "root1", PASSWORD, code=totp(secret or "A" * 32))
        check(r.status == 303 and "anpi_session" in root.jar, "…with the code computed from the secret: signed in", r)
        r = root.get("/console/")
        check(r.status == 200 and "system-admin" in r.body, "the system admin's home page", r)

        # --- a real browser, phone-sized, no JavaScript ----------------------------
        browser_flow(tmp, base, bid)

        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


def browser_flow(tmp, base, bid):
    import test_browser as tb     # its W3C WebDriver client (chromedriver + headless Chromium)
    wd = tb.ChromeDriver(tmp)

    def typ(css, text):
        wd.cmd("POST", "/element/%s/value" % wd.find(css), {"text": text})

    try:
        wd.get(base + "/console/")
        check("/console/login" in wd.url() and wd.find("input[name=login]"),
              "browser: /console/ opens the sign-in form", wd.url())
        typ("input[name=login]", "phone1")
        typ("input[name=password]", PASSWORD)
        wd.submit_and_wait(wd.find("main button[type=submit]"), "input[name=current]")
        check(wd.url().endswith("/console/password"), "browser: an initial password leads to the change form",
              wd.url())
        check(any(c.get("name") == "anpi_session" and c.get("httpOnly") and c.get("secure")
                  and c.get("sameSite") == "Strict" for c in wd.cookies()),
              "browser: it holds the session cookie as HttpOnly, Secure, SameSite=Strict", wd.cookies())
        typ("input[name=current]", PASSWORD)
        typ("input[name=new]", NEW_PASSWORD)
        typ("input[name=repeat]", NEW_PASSWORD)
        wd.submit_and_wait(wd.find("main button[type=submit]"), "ul.b")
        check(wd.url().endswith("/console/?changed=1") and "phone1" in wd.source(),
              "browser: changed, the home page names the account", wd.url())
        width = wd.rect(wd.find("html"))["width"]
        check(width <= tb.PHONE[0] + 1, "browser: the page fits the phone's width", width)
        wd.submit_and_wait(wd.find('a[href="/console/broadcasts/%d"]' % bid), "section.g")
        check("本省/総務課" in wd.source(), "browser: the tally page opens from the home page")
        wd.submit_and_wait(wd.find("header button[type=submit]"), "input[name=login]")
        check("/console/login" in wd.url() and "サインアウトしました" in wd.source(),
              "browser: sign-out returns to the sign-in form", wd.url())
        wd.get(base + "/console/")
        check("/console/login" in wd.url(), "browser: after sign-out the console asks to sign in again", wd.url())
    finally:
        wd.stop()


def main():
    return tap.main(run, "anpi-console-", mode=0o755, keep_env=True)


if __name__ == "__main__":
    sys.exit(main())
