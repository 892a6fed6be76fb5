"""The console's compose, resend and write-back forms (issue 4: "compose a
manual broadcast ... from a phone or a PC", "a group admin can write back to
a person about their answer").

Plain http.client for the forms, CSRF and scope (no redirects followed, the
cookies handled by hand: test_console.Browser), and one real compose ->
preview -> send -> tally -> write-back in headless Chromium at phone size
with JavaScript off (test_browser.ChromeDriver).

Real PostgreSQL 15, Postfix's smtp-sink and anpid as built.  Synthetic
directory only (試験 names, example.jp).  Prints TAP."""

import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_console import hidden, security_headers_ok, sign_in  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

PEOPLE_CSV = """id,name,kana,emails,regions,groups
K1,試験 一郎,しけん いちろう,k1@example.jp,13,本省/総務課
K2,試験 二郎,しけん じろう,k2@example.jp,13,本省/総務課/庶務係
K3,試験 三郎,しけん さぶろう,k3@example.jp,04,地方/東北
K4,試験 四郎,しけん しろう,k4@example.jp,27,地方/近畿
K5,試験 五郎,しけん ごろう,k5@example.jp,13,本省/人事課
"""
PASSWORD = "Compose-Pass-2024!"

tap = harness.Tap()
check = tap.check


def http(url, data=None):
    return harness.form_request(url, data)[:2]


settle = harness.settle


def mails(sink, marker, start=0):
    return harness.sink_mails(sink, marker, start)


def reply_link(sink, marker, address):
    for r, _s, text in mails(sink, marker):
        if r == address:
            m = re.search(r"(https?://[0-9.:]+/r/[A-Za-z0-9_-]+)", text)
            if m:
                return m.group(1).replace("https://", "http://", 1)
    return None


def group_boxes(body):
    """The group ids offered as checkboxes on the compose form."""
    return sorted(int(v) for v in re.findall(r'<input type="checkbox" name="group" value="(\d+)"', body))


def form(csrf, **kw):
    """A compose form as the page posts it (lists become repeated fields)."""
    out = [("csrf", csrf)] if csrf is not None else []
    for k, v in kw.items():
        for x in (v if isinstance(v, list) else [v]):
            out.append((k, x))
    return out


def count(pg, sql):
    return int(pg.psql(sql) or 0)


def recipients(pg, bid):
    return sorted(x for x in pg.psql("SELECT person_id FROM recipients WHERE broadcast_id = %d" % bid).split("\n")
                  if x)


def run(tmp):
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        cfg = harness.base_config(pg, sink)
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api
        base = anpid.admin_url

        s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV.encode(), content_type="text/csv")
        check(s == 200, "the synthetic directory is imported", (s, j))
        gid = {p: int(i) for i, p in (line.split("|") for line in pg.psql("SELECT id, path FROM groups").split("\n"))}

        def account(login, role, groups=()):
            s, j = api.post("/api/v1/accounts", body={"login": login, "password": PASSWORD, "role": role,
                                                      "groups": [g for g in groups], "must_change": False})
            check(s == 201, "account %s (%s) is created" % (login, role), (s, j))

        account("duty1", "duty-officer")
        account("duty2", "duty-officer")
        account("soumu", "group-admin", groups=[gid["本省/総務課"]])
        account("view1", "viewer")
        account("hr1", "hr")

        # --- the form ------------------------------------------------------------
        duty, r = sign_in(base, "duty1", PASSWORD)
        check(r.status == 303, "duty1 signs in", r)
        r = duty.get("/console/")
        check(r.status == 200 and 'href="/console/compose"' in r.body, "the home page links to compose for a duty officer", r)
        r = duty.get("/console/compose")
        csrf = hidden(r.body, "csrf")
        check(r.status == 200 and security_headers_ok(r) and "<script" not in r.body,
              "GET /console/compose: 200, the console's headers, no script", r)
        check(csrf and csrf == pg.psql("SELECT csrf FROM sessions s JOIN accounts a ON a.id = s.account_id"
                                       " WHERE a.login = 'duty1'")
              and r.body.count('name="csrf"') >= 2, "the compose form carries the session's CSRF token", csrf)
        check(group_boxes(r.body) == sorted(gid.values()), "a duty officer is offered every group",
              (group_boxes(r.body), gid))
        pos = [r.body.find('value="%d"' % gid[p]) for p in ("本省", "本省/総務課", "本省/総務課/庶務係")]
        check(all(p > 0 for p in pos) and pos == sorted(pos) and 'class="c d2"' in r.body,
              "the tree is flattened in order, a subgroup indented below its parent", pos)
        for name in ("subject", "body", "q1_text", "q1_choices", "q2_text", "q3_choices", "people", "regions",
                     "subgroups", "match", "drill", "action"):
            if not check('name="%s"' % name in r.body, "the form has the field %s" % name):
                break

        n_before = count(pg, "SELECT count(*) FROM broadcasts")
        good = dict(subject="試験 手動配信", body="{{person.name}} さん\n状況を回答してください。",
                    q1_text="ご自身の状況", q1_choices="無事\n軽傷\n重傷", group=[str(gid["本省"])], subgroups="1",
                    match="any")

        # --- CSRF ----------------------------------------------------------------
        r = duty.post("/console/compose", form(None, action="send", **good))
        check(r.status == 403 and "CSRF" in r.body and "text/html" in (r.header("Content-Type") or ""),
              "send without the csrf field: a 403 page", r)
        r = duty.post("/console/compose", form("x" * len(csrf), action="send", **good))
        check(r.status == 403, "send with a wrong csrf: 403", r)
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before, "…and nothing was created")

        # --- preview = the API's preview ------------------------------------------
        aud = {"groups": [gid["本省"]], "regions": ["04"], "people": ["K4"], "subgroups": True}
        s, api_prev = api.post("/api/v1/broadcasts/preview", body={"audience": aud})
        r = duty.post("/console/compose",
                      form(csrf, action="preview", **dict(good, regions="04", people="K4")))
        m = re.search(r'<b class="count">(\d+)</b>', r.body)
        check(s == 200 and r.status == 200 and m and int(m.group(1)) == api_prev.get("recipients") == 5,
              "preview: the same count as POST /api/v1/broadcasts/preview (5)", (s, api_prev, m and m.group(1)))
        check(all(p in r.body for p in api_prev.get("sample", [])), "…with the first person ids",
              api_prev.get("sample"))
        check('value="試験 手動配信"' in r.body and "無事\n軽傷\n重傷</textarea>" in r.body
              and re.search(r'value="%d" checked' % gid["本省"], r.body) and 'value="K4"' in r.body,
              "…and the form comes back filled in as typed", r.body[:3000])
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before, "a preview creates nothing")
        r = duty.post("/console/compose",
                      form(csrf, action="preview", **dict(good, group=[], regions="04、27", people="")))
        m = re.search(r'<b class="count">(\d+)</b>', r.body)
        check(r.status == 200 and m and m.group(1) == "2", "regions typed with a full-width comma: 宮城 and 大阪 (2)",
              m and m.group(1))

        # --- refused input: shown on the form, input kept, nothing created --------
        r = duty.post("/console/compose",
                      form(csrf, action="send", **dict(good, subject="", body="<script>alert(1)</script>")))
        check(r.status == 400 and 'class="error"' in r.body and "subject" in r.body,
              "send without a subject: 400 with the reason on the form", r)
        check("&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in r.body and "<script>" not in r.body,
              "…the body typed is kept, escaped", r.body[:3000])
        r = duty.post("/console/compose", form(csrf, action="send", **dict(good, q1_choices="無事")))
        check(r.status == 400 and "choices" in r.body, "one choice only: 400, the API's reason", r)
        r = duty.post("/console/compose", form(csrf, action="send", **dict(good, people="NOBODY9",
                                                                                 group=[])))
        check(r.status == 400 and "NOBODY9" in r.body, "an unknown person id: 400 naming it", r)
        r = duty.post("/console/compose", form(csrf, action="send", **dict(good, regions="99")))
        check(r.status == 400 and "regions" in r.body, "a region code that is none: 400", r)
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before, "none of the refused posts created anything")

        # --- viewer and hr: no compose ---------------------------------------------
        for login in ("view1", "hr1"):
            b, r = sign_in(base, login, PASSWORD)
            r = b.get("/console/")
            check(r.status == 200 and "/console/compose" not in r.body, "%s: no compose link on the home page" % login)
            r = b.get("/console/compose")
            check(r.status == 403 and "text/html" in (r.header("Content-Type") or ""),
                  "%s: GET /console/compose is a 403 page" % login, r)
            r = b.post("/console/compose", form(hidden(b.get("/console/").body, "csrf"), action="send", **good))
            check(r.status == 403, "%s: POST /console/compose is refused (403)" % login, r)
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before, "…and nothing was created by them")

        # --- a group admin: only its groups ----------------------------------------
        ga, r = sign_in(base, "soumu", PASSWORD)
        r = ga.get("/console/compose")
        gcsrf = hidden(r.body, "csrf")
        check(r.status == 200 and group_boxes(r.body) == sorted([gid["本省/総務課"], gid["本省/総務課/庶務係"]]),
              "group admin: the form offers its group and the one below, nothing else", group_boxes(r.body))
        check("地方" not in r.body and "人事課" not in r.body, "…no other group's name appears")
        r = ga.post("/console/compose", form(gcsrf, action="send", **dict(good, group=[str(gid["地方"])])))
        check(r.status == 400 and str(gid["地方"]) in r.body, "group admin: sending to a foreign group id is refused",
              r)
        r = ga.post("/console/compose", form(gcsrf, action="preview", **dict(good, group=[str(gid["本省"])])))
        check(r.status == 400 and '<b class="count">' not in r.body,
              "group admin: even a preview of a group above its own is refused", r)
        r = ga.post("/console/compose", form(gcsrf, action="send", **dict(good, group=[], people="K3")))
        check(r.status == 400 and "K3" in r.body, "group admin: a person outside its groups is refused", r)
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before, "…nothing was created")

        # --- send: one broadcast, the right recipients -----------------------------
        before = len(sink.messages())
        r = ga.post("/console/compose",
                      form(gcsrf, action="send", **dict(good, subject="試験G 総務課の安否",
                                                         group=[str(gid["本省/総務課"])])))
        loc = r.header("Location") or ""
        m = re.fullmatch(r"/console/broadcasts/(\d+)", loc)
        check(r.status == 303 and m, "group admin: send answers 303 to the broadcast's page", r)
        bid = int(m.group(1)) if m else 0
        check(count(pg, "SELECT count(*) FROM broadcasts") == n_before + 1, "exactly one broadcast was created")
        check(recipients(pg, bid) == ["K1", "K2"], "…to 総務課 and 庶務係 below it (K1, K2)", recipients(pg, bid))
        check(pg.psql("SELECT created_by || '|' || kind || '|' || drill FROM broadcasts WHERE id = %d" % bid)
              == "soumu|safety|false", "…created by the group admin, a safety check, not a drill")
        check(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'broadcast.manual' AND actor = 'soumu'") == "1",
              "…and audited under its login")
        settle(anpid, sink)
        got = sorted(r_ for r_, _s, _t in mails(sink, "試験G", before))
        check(got == ["k1@example.jp", "k2@example.jp"], "the sink got one mail each for K1 and K2", got)
        text = [t for r_, _s, t in mails(sink, "試験G", before) if r_ == "k1@example.jp"]
        check(text and "試験 一郎 さん" in text[0] and "/r/" in text[0], "…rendered per person, with the reply link",
              text[:1])

        r = ga.get(loc)
        check(r.status == 200 and "未回答（2人）" in r.body and "K1" in r.body and "K2" in r.body,
              "the broadcast page lists the unanswered people", r.body[-3000:])
        check('action="/console/broadcasts/%d/resend"' % bid in r.body and "未回答の 2 人に再送する" in r.body,
              "…with the resend form for the unanswered", r.body[-3000:])
        check('action="/console/broadcasts/%d/people/K1/message"' % bid in r.body,
              "…and a write-back form per person")

        # K1 answers through the reply page.
        link_k1 = reply_link(sink, "試験G", "k1@example.jp")
        s, _page = http(link_k1, urllib.parse.urlencode({"q1": "軽傷"}).encode())
        check(s == 200, "K1 answers 軽傷 on the reply page", s)
        r = ga.get(loc)
        ans = r.body[r.body.find("回答済み（1人）"):]
        check("回答済み（1人）" in r.body and "K1" in ans and "ご自身の状況: <b>軽傷</b>" in ans,
              "the answered list shows K1 with the latest answer", ans[:1500])

        # --- resend from the console: only the unanswered --------------------------
        r = ga.post("/console/broadcasts/%d/resend" % bid, [])
        check(r.status == 403, "resend without csrf: 403", r)
        before = len(sink.messages())
        r = ga.post("/console/broadcasts/%d/resend" % bid, [("csrf", gcsrf)])
        check(r.status == 303 and r.header("Location") == "/console/broadcasts/%d?resent=1" % bid,
              "resend: 303 back to the page, one person resent", r)
        settle(anpid, sink)
        got = mails(sink, "試験G", before)
        check(sorted(x[0] for x in got) == ["k2@example.jp"] and all("【再送】" in x[1] for x in got),
              "the resend reached only K2, the one who had not answered", got)
        r = ga.get(r.header("Location"))
        check("未回答の 1 人に再送しました" in r.body, "…and the page says so", r.body[:2000])

        # --- write-back from the console ---------------------------------------------
        before = len(sink.messages())
        r = ga.post("/console/broadcasts/%d/people/K1/message" % bid, [("text", "x")])
        check(r.status == 403, "write-back without csrf: 403", r)
        r = ga.post("/console/broadcasts/%d/people/K1/message" % bid,
                      [("csrf", gcsrf), ("text", "自宅待機してください。\r\n<b>連絡</b>を待ちます。")])
        check(r.status == 303 and r.header("Location") == "/console/broadcasts/%d?written=1" % bid,
              "write-back: 303 back to the page", r)
        check(pg.psql("SELECT person_id || '|' || created_by || '|' || (text LIKE '%%\r%%') FROM write_backs")
              == "K1|soumu|false", "…stored for K1 under the group admin's login, line ends as LF")
        settle(anpid, sink)
        wb = mails(sink, "担当者からのメッセージ", before)
        check(len(wb) == 1 and wb[0][0] == "k1@example.jp" and "自宅待機してください。" in wb[0][2],
              "the write-back reached K1 by mail", wb)
        s, page = http(link_k1)
        check(s == 200 and "自宅待機してください。" in page and "&lt;b&gt;連絡&lt;/b&gt;" in page
              and "<b>連絡" not in page, "…and shows on K1's reply page, escaped", page[-800:])
        r = ga.get("/console/broadcasts/%d?written=1" % bid)
        check("メッセージを送りました" in r.body and "&lt;b&gt;連絡&lt;/b&gt;" in r.body,
              "the console confirms it and shows the message sent, escaped")
        r = ga.post("/console/broadcasts/%d/people/K1/message" % bid, [("csrf", gcsrf), ("text", " \r\n")])
        check(r.status == 400, "an empty write-back: 400", r)

        # --- scope on a broadcast to everyone -------------------------------------------
        s, j = api.post("/api/v1/broadcasts", body={
            "subject": "試験H 全員", "body": "回答してください。",
            "questions": [{"id": "safety", "text": "状況", "choices": ["無事", "負傷"]}],
            "audience": {"groups": [gid["本省"], gid["地方"]], "subgroups": True}})
        bid_all = j.get("id") or 0
        r = ga.get("/console/broadcasts/%d" % bid_all)
        check(r.status == 200 and "K1" in r.body and "K2" in r.body and "K3" not in r.body and "K5" not in r.body,
              "group admin: the people list of a broadcast to everyone holds only its people", r.body[-3000:])
        check("未回答の 2 人に再送する" in r.body, "…and its resend button counts only them")
        r = ga.post("/console/broadcasts/%d/people/K3/message" % bid_all, [("csrf", gcsrf), ("text", "x")])
        check(r.status == 404, "group admin: a write-back to a person outside its scope is a 404", r)
        n_wb = pg.psql("SELECT count(*) FROM write_backs")
        check(n_wb == "1", "…and nothing was stored", n_wb)
        r = ga.get("/console/broadcasts/%d" % (bid_all + 1000))
        check(r.status == 404, "an unknown broadcast: 404 page", r)
        h1, r = sign_in(base, "hr1", PASSWORD)
        r = h1.get("/console/broadcasts/%d" % bid)
        check(r.status == 404, "hr: a broadcast that is not HR mail is a 404 page", r)

        # --- the duty officer sees everybody ---------------------------------------------
        r = duty.get("/console/broadcasts/%d" % bid_all)
        check(r.status == 200 and all(p in r.body for p in ("K1", "K2", "K3", "K4", "K5")),
              "a duty officer's list holds everyone", r.body[-2000:])

        browser_flow(tmp, base, pg, sink, anpid, gid)

        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


def browser_flow(tmp, base, pg, sink, anpid, gid):
    import test_browser as tb     # its W3C WebDriver client (chromedriver + headless Chromium)
    wd = tb.ChromeDriver(tmp)

    def typ(css, text):
        wd.cmd("POST", "/element/%s/value" % wd.find(css), {"text": text})

    try:
        wd.get(base + "/console/")
        typ("input[name=login]", "duty2")
        typ("input[name=password]", PASSWORD)
        wd.submit_and_wait(wd.find("main button[type=submit]"), "ul.b")
        check(wd.url().endswith("/console/"), "browser: duty2 signs in", wd.url())
        wd.submit_and_wait(wd.find('a.go[href="/console/compose"]'), "textarea[name=body]")
        check(wd.url().endswith("/console/compose"), "browser: the compose link opens the form", wd.url())
        width = wd.rect(wd.find("html"))["width"]
        check(width <= tb.PHONE[0] + 1, "browser: the form fits the phone's width", width)
        typ("input[name=subject]", "試験P スマホから")
        typ("textarea[name=body]", "スマホから送ります。")
        wd.click(wd.find('input[name=group][value="%d"]' % gid["地方"]))
        wd.submit_and_wait(wd.find('button[value="preview"]'), "b.count")
        n = wd.text(wd.find("b.count"))
        check(n == "2", "browser: preview says 2 people (地方 and below)", n)
        check(wd.prop(wd.find('input[name=group][value="%d"]' % gid["地方"]), "checked"),
              "browser: the ticked group stays ticked after the preview")
        before = len(sink.messages())
        wd.submit_and_wait(wd.find('button[value="send"]'), "section.g")
        m = re.search(r"/console/broadcasts/(\d+)$", wd.url())
        check(m and "地方/東北" in wd.source(), "browser: send leads to the broadcast's tally", wd.url())
        bid = int(m.group(1)) if m else 0
        check(recipients(pg, bid) == ["K3", "K4"], "browser: the broadcast reaches K3 and K4", recipients(pg, bid))
        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験P", before))
        check(got == ["k3@example.jp", "k4@example.jp"], "browser: …and their mail is at the sink", got)
        # Write back to K3: open the details, type, send.
        li = [el for el in wd.find_all("ul.unanswered-people li") if "K3" in wd.text(el)]
        check(li, "browser: K3 is in the unanswered list")
        if li:
            wd.click(wd.find("summary", li[0]))
            wd.cmd("POST", "/element/%s/value" % wd.find("textarea[name=text]", li[0]), {"text": "電話をください"})
            before = len(sink.messages())
            wd.submit_and_wait(wd.find("button[type=submit]", li[0]), "p.notice")
            check("メッセージを送りました" in wd.source(), "browser: the write-back is confirmed")
            settle(anpid, sink)
            wb = mails(sink, "担当者からのメッセージ", before)
            check(len(wb) == 1 and wb[0][0] == "k3@example.jp" and "電話をください" in wb[0][2],
                  "browser: …and K3 got it by mail", wb)
        png = wd.screenshot()
        tb.save_shot(tmp, "console-compose", png)
    finally:
        wd.stop()


def main():
    return tap.main(run, "anpi-compose-", mode=0o755, keep_env=True)


if __name__ == "__main__":
    sys.exit(main())
