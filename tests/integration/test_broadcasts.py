"""Manual broadcasts through the admin API: compose to people, groups (with
and without subgroups) and regions; answers through the reply page; resend
to the unanswered only; the send history with drills kept apart; the tally
per group; the time-to-answer curve; messages written back to a person.
Then the same through the scope of a group admin and of hr (only their
people, outside is 404), the audience preview, "match": "all" and city
codes, checked against a computation of their own here.

Real PostgreSQL 15, Postfix's smtp-sink and anpid as built.  Synthetic
directory only (試験 names, example.jp).  Prints TAP."""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

# A three-level tree (本省 > 本省/総務課 > 本省/総務課/庶務係) plus 地方/東北 and a
# person in no group.  B5 has two addresses; B7 has a second one too.
PEOPLE_CSV = """id,name,kana,emails,regions,groups
B1,試験 本省,しけん ほんしょう,b1@example.jp,13,本省
B2,試験 総務,しけん そうむ,b2@example.jp,13,本省/総務課
B3,試験 庶務,しけん しょむ,b3@example.jp,14,本省/総務課/庶務係
B4,試験 総務二,しけん そうむに,b4@example.jp,27,本省/総務課
B5,試験 東北,しけん とうほく,b5@example.jp;b5.m@example.jp,04,地方/東北
B6,試験 無所属,しけん むしょぞく,b6@example.jp,47,
B7,試験 兼務,しけん けんむ,b7@example.jp;b7.m@example.jp,04,本省/総務課/庶務係;地方/東北
"""
ADDR = {}
PREFS = {}      # person -> {prefecture codes}
GROUPS = {}     # person -> {group paths}
for _line in PEOPLE_CSV.strip().splitlines()[1:]:
    _f = _line.split(",")
    ADDR[_f[0]] = _f[3].split(";")
    PREFS[_f[0]] = {int(x) for x in _f[4].split(";") if x}
    GROUPS[_f[0]] = {x for x in _f[5].split(";") if x}
# Cities set by the test (person_cities) for the city-code audience.
# tallycache.h TALLY_REFRESH_MS: an answer within this of the last is a burst
TALLY_REFRESH_S = 0.5
CITIES = {"B3": {14100}, "B4": {27100}, "B5": {4100}}

QUESTIONS = [
    {"id": "safety", "text": "ご自身の状況", "choices": ["無事", "軽傷", "重傷"]},
    {"id": "attend", "text": "出勤できますか", "choices": ["出勤可能", "出勤不可"]},
]

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


def compose(api, subject, audience, body="{{person.name}} さん\n安否を回答してください。", **extra):
    doc = {"subject": subject, "body": body, "questions": QUESTIONS, "audience": audience, "by": "試験 管理者"}
    doc.update(extra)
    return api.post("/api/v1/broadcasts", body=doc)


def recipients_of(pg, bid):
    out = pg.psql("SELECT person_id FROM recipients WHERE broadcast_id = %d ORDER BY person_id" % bid)
    return out.split("\n") if out else []


def token_for(pg, login, role, groups=(), scopes=0x1f):
    return harness.account_token(pg, login, role, groups, scopes=scopes)[1]


def in_subtree(paths, roots, sub=True):
    return any(p == r or (sub and p.startswith(r + "/")) for p in paths for r in roots)


def expect_audience(people=(), groups=(), regions=(), subgroups=True, match="any", scope=None):
    """The audience computed here, independently of the SQL: groups by path."""
    prefs = {int(r) for r in regions if len(str(r)) <= 2}
    cities = {int(r) for r in regions if len(str(r)) == 5}
    by_group = {p for p in GROUPS if in_subtree(GROUPS[p], groups, subgroups)}
    by_region = {p for p in PREFS if PREFS[p] & prefs or CITIES.get(p, set()) & cities}
    if match == "all":
        crit = [s for s, given in ((by_group, groups), (by_region, prefs or cities)) if given]
        chosen = set.intersection(*crit) if crit else set()
    else:
        chosen = by_group | by_region
    out = chosen | set(people)
    return sorted(out & scope) if scope is not None else sorted(out)


def answered_of(pg):
    """{broadcast id: {person: answered?}} straight from the tables."""
    out = {}
    for line in pg.psql("SELECT broadcast_id, person_id, answered_at IS NOT NULL FROM recipients").split("\n"):
        if line:
            b, pid, ans = line.split("|")
            out.setdefault(int(b), {})[pid] = ans == "t"
    return out


def run(tmp):
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        cfg = harness.base_config(pg, sink)
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api
        s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV.encode(), content_type="text/csv")
        check(s == 200 and j.get("rows") == 7, "the synthetic directory is imported", (s, j))
        gid = dict(line.split("|")[::-1] for line in pg.psql("SELECT id, path FROM groups").split("\n"))
        check({"本省", "本省/総務課", "本省/総務課/庶務係", "地方", "地方/東北"} <= set(gid),
              "the group tree exists", gid)

        # --- compose: recipients exactly -------------------------------------
        s, j = compose(api, "試験A 安否確認", {"groups": [int(gid["本省"])], "subgroups": True})
        check(s == 201 and j.get("id") and j.get("recipients") == 5,
              "compose to 本省 with subgroups: 201 and an id", (s, j))
        bid_a = j.get("id")
        check(recipients_of(pg, bid_a) == ["B1", "B2", "B3", "B4", "B7"],
              "…its recipients are 本省 and every group under it", recipients_of(pg, bid_a))
        s, j = compose(api, "試験B 直属のみ", {"groups": [int(gid["本省/総務課"])], "subgroups": False})
        bid_b = j.get("id")
        check(s == 201 and recipients_of(pg, bid_b) == ["B2", "B4"],
              "subgroups false: only the direct members of 本省/総務課", (s, j, recipients_of(pg, bid_b) if bid_b else None))
        s, j = compose(api, "試験C 個人と地域", {"people": ["B6"], "regions": ["04"], "groups": []})
        bid_c = j.get("id")
        check(s == 201 and recipients_of(pg, bid_c) == ["B5", "B6", "B7"],
              "people plus a region: the person and everyone in 宮城県", (s, j))
        s, j = compose(api, "試験D 混合", {"people": ["B1"], "groups": [str(gid["地方"])], "regions": [27]},
                       body="本文のみ")
        bid_d = j.get("id")
        check(s == 201 and recipients_of(pg, bid_d) == ["B1", "B4", "B5", "B7"],
              "people, a group given as a string id and a region: the union, each once", (s, j))

        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験A"))
        want = sorted(a for p in ("B1", "B2", "B3", "B4", "B7") for a in ADDR[p])
        check(got == want, "one mail per address of every recipient of A", "want %s\ngot %s" % (want, got))
        ta = [t for r, _s, t in mails(sink, "試験A") if r == "b1@example.jp"]
        check(ta and "試験 本省 さん" in ta[0] and "/r/" in ta[0], "the body is rendered per person with the link",
              ta[:1])
        td = [t for r, _s, t in mails(sink, "試験D") if r == "b1@example.jp"]
        check(td and "本文のみ" in td[0] and re.search(r"/r/[A-Za-z0-9_-]+", td[0]),
              "a body without {{reply_url}} gets the reply link appended", td[:1])

        # --- answers through the reply page ----------------------------------
        link_b1 = reply_link(sink, "試験A", "b1@example.jp")
        link_b2 = reply_link(sink, "試験A", "b2@example.jp")
        s, page = http(link_b1)
        check(s == 200 and "試験A 安否確認" in page and 'name="safety"' in page,
              "the reply page of a manual broadcast shows its subject and questions", (s, page[:300]))
        s1, _ = http(link_b1, urllib.parse.urlencode({"safety": "無事", "attend": "出勤可能"}).encode())
        s2, _ = http(link_b2, urllib.parse.urlencode({"safety": "軽傷", "attend": "出勤不可"}).encode())
        s, b = api.get("/api/v1/broadcasts/%d" % bid_a)
        check(s1 == 200 and s2 == 200 and b["answered"] == 2 and b["unanswered"] == 3
              and b["answers"]["safety"] == {"無事": 1, "軽傷": 1, "重傷": 0},
              "answers through the page change the tally", b)
        check(all(k in b for k in ("id", "kind", "incident_id", "drill", "created_at", "expires_at", "rounds_sent",
                                   "recipients", "deliveries", "answered", "unanswered", "questions", "answers",
                                   "curve")) and b["kind"] == "safety" and b["created_by"] == "api",
              "GET /broadcasts/{id} keeps every field and adds created_by and the curve", b)

        # --- resend: only the unanswered -------------------------------------
        before = len(sink.messages())
        s, j = api.post("/api/v1/broadcasts/%d/resend" % bid_a, body={"by": "試験 管理者"})
        want = sorted(a for p in ("B3", "B4", "B7") for a in ADDR[p])
        check(s == 202 and j.get("round") == 1 and j.get("recipients") == 3 and j.get("deliveries") == len(want),
              "resend: a new round to the 3 unanswered", (s, j))
        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験A", before))
        check(got == want, "the resend reached the unanswered only", "want %s\ngot %s" % (want, got))
        check(all("【再送】" in subj for _r, subj, _t in mails(sink, "試験A", before)),
              "resent mail says 【再送】 in the subject", [x[1] for x in mails(sink, "試験A", before)][:3])
        link_b3 = reply_link(sink, "試験A", "b3@example.jp")
        http(link_b3, urllib.parse.urlencode({"safety": "無事"}).encode())
        before = len(sink.messages())
        s, j = api.post("/api/v1/broadcasts/%d/resend" % bid_a)
        want = sorted(a for p in ("B4", "B7") for a in ADDR[p])
        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験A", before))
        check(s == 202 and j.get("round") == 2 and got == want,
              "a second resend by hand: round 2, again only the unanswered", (s, j, got))
        for p in ("B4", "B7"):
            http(reply_link(sink, "試験A", ADDR[p][0]), urllib.parse.urlencode({"safety": "重傷"}).encode())
        s, j = api.post("/api/v1/broadcasts/%d/resend" % bid_a)
        check(s == 409 and "answered" in j.get("error", ""), "resend when everybody answered: 409", (s, j))
        s, j = api.post("/api/v1/broadcasts/999999/resend")
        check(s == 404, "resend of an unknown broadcast: 404", (s, j))

        # --- per-group tally ------------------------------------------------
        # B answered: B1 無事, B2 軽傷, B3 無事, B4 重傷, B7 重傷 (all of A).  Use C
        # (B5, B6, B7) with two answers to see unanswered and the no-group row.
        link_b5 = reply_link(sink, "試験C", "b5@example.jp")
        link_b6 = reply_link(sink, "試験C", "b6@example.jp")
        http(link_b5, urllib.parse.urlencode({"safety": "軽傷", "attend": "出勤可能"}).encode())
        http(link_b6, urllib.parse.urlencode({"safety": "無事"}).encode())
        s, j = api.get("/api/v1/broadcasts/%d/groups" % bid_c)
        rows = {g["path"]: g for g in j.get("groups", [])} if s == 200 else {}
        tohoku, chihou, nogroup = rows.get("地方/東北"), rows.get("地方"), rows.get(None)
        check(s == 200 and tohoku and tohoku["recipients"] == 2 and tohoku["answered"] == 1
              and tohoku["unanswered"] == 1 and tohoku["answers"]["safety"] == {"無事": 0, "軽傷": 1, "重傷": 0},
              "tally per group: 地方/東北 has B5 (answered) and B7 (not)", j)
        check(chihou and chihou["recipients"] == 2 and chihou["direct"]["recipients"] == 0,
              "a parent group counts its subgroups; direct counts only its own members", chihou)
        check(nogroup and nogroup["recipients"] == 1 and nogroup["answers"]["safety"]["無事"] == 1,
              "people in no group are one more row", nogroup)
        shomu = rows.get("本省/総務課/庶務係")
        check(shomu and shomu["recipients"] == 1 and shomu["answered"] == 0, "B7 counts in 庶務係 too", shomu)
        s, j = api.get("/api/v1/broadcasts/%d/groups" % bid_a)
        rows = {g["path"]: g for g in j.get("groups", [])} if s == 200 else {}
        honsho = rows.get("本省")
        check(honsho and honsho["recipients"] == 5 and honsho["answered"] == 5
              and honsho["answers"]["safety"] == {"無事": 2, "軽傷": 1, "重傷": 2}
              and honsho["direct"] == {"recipients": 1, "answered": 1},
              "本省's tally covers its whole subtree", honsho)
        s, j = api.get("/api/v1/broadcasts/999999/groups")
        check(s == 404, "tally of an unknown broadcast: 404", (s, j))

        # --- the curve, with answers at known times --------------------------
        # D: B1, B4, B5, B7.  sent at T; B1 after 2 min, B4 after 6 min 40 s,
        # B5 after 33 min 20 s, B7 never.
        for p in ("B1", "B4", "B5"):
            http(reply_link(sink, "試験D", ADDR[p][0]), urllib.parse.urlencode({"safety": "無事"}).encode())
        pg.psql("UPDATE deliveries SET sent_at = '2024-06-01 09:00:00+09' WHERE broadcast_id = %d" % bid_d)
        for p, secs in (("B1", 120), ("B4", 400), ("B5", 2000)):
            pg.psql("UPDATE responses rs SET created_at = '2024-06-01 09:00:00+09'::timestamptz + interval '%d s'"
                    " FROM recipients r WHERE r.id = rs.recipient_id AND r.broadcast_id = %d AND r.person_id = '%s'"
                    % (secs, bid_d, p))
        # B5's second address got its mail a minute later: the first one counts
        pg.psql("UPDATE deliveries SET sent_at = sent_at + interval '60 s' WHERE broadcast_id = %d"
                " AND address = 'b5.m@example.jp'" % bid_d)
        s, b = api.get("/api/v1/broadcasts/%d" % bid_d)
        curve = b.get("curve", {})
        check(s == 200 and curve.get("median_s") == 400
              and curve.get("answered_after") == {"5m": 0.25, "10m": 0.5, "30m": 0.5, "60m": 0.75},
              "the curve: median 400 s; 25 % by 5 min, 50 % by 10 and 30, 75 % by 60", curve)
        s, b = api.get("/api/v1/broadcasts/%d" % bid_b)
        check(s == 200 and b["curve"]["median_s"] is None and b["curve"]["answered_after"]["60m"] == 0,
              "no answers: no median, zero shares", b.get("curve"))

        # --- history and drills kept apart -----------------------------------
        s, j = compose(api, "試験E 訓練", {"people": ["B1", "B2"]}, drill=True)
        bid_e = j.get("id")
        check(s == 201, "a drill broadcast is composed", (s, j))
        settle(anpid, sink)
        te = mails(sink, "試験E")
        check(te and all("【訓練】" in subj for _r, subj, _t in te), "drill mail says 【訓練】", [x[1] for x in te])
        http(reply_link(sink, "試験E", "b1@example.jp"), urllib.parse.urlencode({"safety": "無事"}).encode())
        s, h = api.get("/api/v1/broadcasts?drill=1")
        ids = [x["id"] for x in h.get("broadcasts", [])]
        check(s == 200 and ids == [bid_e], "history ?drill=1 lists the drill only", (s, ids))
        e = h["broadcasts"][0] if ids else {}
        check(e.get("recipients") == 2 and e.get("answered") == 1 and e.get("answer_rate") == 0.5
              and e.get("created_by") == "api" and e.get("deliveries", {}).get("sent") == 2
              and e.get("created_at"), "a history row: who, when, audience, deliveries, answer rate", e)
        s, h = api.get("/api/v1/broadcasts?drill=0")
        ids = [x["id"] for x in h.get("broadcasts", [])]
        check(s == 200 and bid_e not in ids and {bid_a, bid_b, bid_c, bid_d} <= set(ids)
              and ids == sorted(ids, reverse=True), "history ?drill=0 lists the real ones, newest first", ids)
        tot = h.get("totals", {})
        # real safety: A 5/5, B 0/2, C 2/3, D 3/4 -> 10/14; drill 1/2
        check(tot.get("real", {}).get("answer_rate") == round(10 / 14, 4)
              and tot.get("drill", {}).get("answer_rate") == 0.5 and tot["drill"]["broadcasts"] == 1,
              "totals keep drills apart from real broadcasts", tot)
        s, h = api.get("/api/v1/broadcasts?limit=2")
        check(s == 200 and len(h["broadcasts"]) == 2, "history honours limit", len(h.get("broadcasts", [])))

        # --- write-back ------------------------------------------------------
        before = len(sink.messages())
        s, j = api.post("/api/v1/broadcasts/%d/people/B2/message" % bid_a,
                        body={"text": "自宅待機してください。\n<b>連絡</b>は {{不要}} です。", "by": "試験 総務課長"})
        check(s == 201 and j.get("notice_id") and j.get("deliveries") == 1, "write-back stored and queued", (s, j))
        settle(anpid, sink)
        wb = [(r, subj, t) for r, subj, t in mails(sink, "担当者からのメッセージ", before)]
        check(len(wb) == 1 and wb[0][0] == "b2@example.jp" and "自宅待機してください。" in wb[0][2]
              and "{{不要}}" in wb[0][2] and re.search(r"/r/[A-Za-z0-9_-]+", wb[0][2]),
              "the write-back is mailed to the person, text as typed, with the reply link", wb)
        s, page = http(link_b2)
        check(s == 200 and "担当者からのメッセージ" in page and "自宅待機してください。" in page
              and "&lt;b&gt;連絡&lt;/b&gt;" in page and "<b>連絡" not in page,
              "the write-back shows on the person's reply page, escaped", page[-600:])
        s, page = http(link_b1)
        check(s == 200 and "自宅待機" not in page, "…and only on that person's page")
        s, j = api.post("/api/v1/broadcasts/%d/people/B6/message" % bid_a, body={"text": "x"})
        check(s == 404, "write-back to someone who was not asked: 404", (s, j))
        s, j = api.post("/api/v1/broadcasts/%d/people/B2/message" % bid_a, body={"text": ""})
        check(s == 400 and "text" in j.get("error", ""), "an empty write-back: 400", (s, j))

        # --- bad input -------------------------------------------------------
        base = {"subject": "試験", "body": "本文", "questions": QUESTIONS, "audience": {"people": ["B1"]}}

        def bad(change, needle, what):
            doc = dict(base)
            doc.update(change)
            n = pg.psql("SELECT count(*) FROM broadcasts")
            s, j = api.post("/api/v1/broadcasts", body=doc)
            err = j.get("error", "") if isinstance(j, dict) else str(j)
            check(s == 400 and needle in err and pg.psql("SELECT count(*) FROM broadcasts") == n,
                  "400 and nothing created: " + what, (s, j))

        bad({"subject": ""}, "subject", "empty subject")
        bad({"subject": "a\r\nBcc: x@example.jp"}, "subject", "a subject with a line break")
        bad({"subject": "あ" * 200}, "subject", "an overlong subject")
        bad({"body": ""}, "body", "empty body")
        bad({"body": "x" * 20000}, "body", "an overlong body")
        bad({"body": "{{event.title}}"}, "body", "a body with a variable other than person.name and reply_url")
        bad({"questions": []}, "questions", "no questions")
        bad({"questions": QUESTIONS * 6}, "questions", "eleven questions")
        bad({"questions": [{"id": "Safety!", "text": "q", "choices": ["a", "b"]}]}, "questions[0].id",
            "a question id outside [a-z0-9_]")
        bad({"questions": [{"id": "q", "text": "q", "choices": ["a"]}]}, "questions[0].choices", "one choice")
        bad({"questions": [{"id": "q", "text": "q", "choices": [str(i) for i in range(11)]}]},
            "questions[0].choices", "eleven choices")
        bad({"questions": [QUESTIONS[0], QUESTIONS[0]]}, "used twice", "a duplicate question id")
        bad({"audience": {}}, "audience is empty", "an empty audience")
        bad({"audience": {"regions": ["48"]}}, "regions[0]", "prefecture code 48")
        bad({"audience": {"people": ["ZZ9"]}}, "ZZ9", "an unknown person")
        bad({"audience": {"groups": [999999]}}, "999999", "an unknown group")
        bad({"audience": {"regions": ["01"]}}, "nobody", "an audience that matches nobody")
        bad({"audience": {"team": ["x"]}}, "team", "an unknown audience key")
        bad({"drill": "yes"}, "drill", "drill not a boolean")
        s, j = api.post("/api/v1/broadcasts", body=b"{not json", content_type="application/json")
        check(s == 400 and "JSON" in j.get("error", ""), "malformed JSON: 400", (s, j))
        s, j = api.get("/api/v1/broadcasts?drill=maybe")
        check(s == 400, "history with a bad drill filter: 400", (s, j))
        s, j = harness.Api(anpid.admin_url, "wrong-token-0123456789").post("/api/v1/broadcasts", body=base)
        check(s == 401, "a wrong token gets 401", s)
        n = pg.psql("SELECT count(*) FROM audit_log WHERE action IN ('broadcast.manual', 'broadcast.resend',"
                    " 'broadcast.write_back')")
        check(int(n) == 5 + 2 + 1, "compose, resend and write-back are audited", n)

        # =====================================================================
        # Scope: a group admin of 本省/総務課 (and so 庶務係 below it) sees B2,
        # B4 (総務課) and B3, B7 (庶務係); hr sees HR broadcasts only.
        # =====================================================================
        ga_tok = token_for(pg, "ga-somu", "group-admin", [gid["本省/総務課"]])
        hr_tok = token_for(pg, "hr-staff", "hr")
        ga = harness.Api(anpid.admin_url, ga_tok)
        hr = harness.Api(anpid.admin_url, hr_tok)
        SCOPE = {"B2", "B3", "B4", "B7"}

        # --- one broadcast ----------------------------------------------------
        s, b = ga.get("/api/v1/broadcasts/%d" % bid_a)
        check(s == 200 and b["recipients"] == 4 and b["answered"] == 4 and b["unanswered"] == 0
              and b["answers"]["safety"] == {"無事": 1, "軽傷": 1, "重傷": 2}
              and b["deliveries"]["sent"] == sum(len(ADDR[p]) for p in SCOPE)
              + sum(len(ADDR[p]) for p in ("B3", "B4", "B7")) + sum(len(ADDR[p]) for p in ("B4", "B7")),
              "group admin: A counts only its 4 people (recipients, answers, deliveries of every round)", b)
        s, b = ga.get("/api/v1/broadcasts/%d" % bid_c)
        check(s == 200 and b["recipients"] == 1 and b["answered"] == 0 and b["answer_rate"] == 0,
              "group admin: C (B5, B6, B7) counts B7 only", b)
        s, j = compose(api, "試験O 範囲外", {"people": ["B1", "B5"]})
        bid_o = j.get("id")
        s1, j1 = ga.get("/api/v1/broadcasts/%d" % bid_o)
        s2, j2 = ga.get("/api/v1/broadcasts/999999")
        check(s1 == 404 and s2 == 404 and j1 == j2,
              "group admin: a broadcast with none of its people is 404, the same body as an unknown id", (j1, j2))
        s1, j1 = ga.get("/api/v1/broadcasts/%d/groups" % bid_o)
        s2, j2 = ga.get("/api/v1/broadcasts/999999/groups")
        check(s1 == 404 and s2 == 404 and j1.get("error", "").replace(str(bid_o), "N")
              == j2.get("error", "").replace("999999", "N"), "…and so is its per-group tally", (j1, j2))

        # --- per-group tally: its groups only, no "no group" row ---------------
        s, j = ga.get("/api/v1/broadcasts/%d/groups" % bid_a)
        rows = {g["path"]: g for g in j.get("groups", [])} if s == 200 else {}
        check(s == 200 and set(rows) == {"本省/総務課", "本省/総務課/庶務係"},
              "group admin: the tally lists only its groups (no 本省, no no-group row)", list(rows))
        somu = rows.get("本省/総務課", {})
        check(somu.get("recipients") == 4 and somu.get("direct") == {"recipients": 2, "answered": 2}
              and somu.get("answers", {}).get("safety") == {"無事": 1, "軽傷": 1, "重傷": 2},
              "…総務課 counts its subtree (B2, B3, B4, B7), direct only B2 and B4", somu)
        s, j = ga.get("/api/v1/broadcasts/%d/groups" % bid_c)
        rows = {g["path"]: g for g in j.get("groups", [])} if s == 200 else {}
        check(s == 200 and set(rows) == {"本省/総務課", "本省/総務課/庶務係"}
              and rows["本省/総務課/庶務係"]["recipients"] == 1 and rows["本省/総務課/庶務係"]["unanswered"] == 1,
              "…and for C: B7 in 庶務係, not 地方/東北 and not B6's no-group row", j)

        # --- history: its broadcasts, every figure over its people -------------
        s, h = ga.get("/api/v1/broadcasts?limit=1000")
        rec = answered_of(pg)
        sent = {}
        for line in pg.psql("SELECT broadcast_id, person_id, count(*) FROM deliveries WHERE status = 'sent'"
                            " GROUP BY 1, 2").split("\n"):
            if line:
                bb, pid, n = line.split("|")
                sent[(int(bb), pid)] = int(n)
        meta = {}
        for line in pg.psql("SELECT id, kind, drill FROM broadcasts").split("\n"):
            bb, kind, drill = line.split("|")
            meta[int(bb)] = (kind, drill == "t")
        want = sorted((bb for bb, who in rec.items() if set(who) & SCOPE), reverse=True)
        got = [x["id"] for x in h.get("broadcasts", [])]
        check(s == 200 and got == want, "group admin: the history lists exactly the broadcasts that reached its "
              "people", (got, want))
        bad_rows = []
        for x in h.get("broadcasts", []):
            mine = {pid: a for pid, a in rec[x["id"]].items() if pid in SCOPE}
            n, ans = len(mine), sum(mine.values())
            dsent = sum(sent.get((x["id"], pid), 0) for pid in mine)
            if (x["recipients"], x["answered"], x["deliveries"]["sent"]) != (n, ans, dsent) \
                    or x["answer_rate"] != round(ans / n, 4):
                bad_rows.append((x["id"], x["recipients"], x["answered"], x["deliveries"]["sent"], n, ans, dsent))
        check(s == 200 and got and not bad_rows, "…each row counts only its people (recipients, answered, "
              "deliveries sent, rate)", bad_rows)
        tot = {"real": [0, 0, 0, 0, 0], "drill": [0, 0, 0, 0, 0]}
        for bb in want:
            mine = {pid: a for pid, a in rec[bb].items() if pid in SCOPE}
            t = tot["drill" if meta[bb][1] else "real"]
            t[0] += 1
            t[1] += len(mine)
            t[2] += sum(mine.values())
            if meta[bb][0] == "safety":
                t[3] += len(mine)
                t[4] += sum(mine.values())
        ok = all(h["totals"][k]["broadcasts"] == v[0] and h["totals"][k]["recipients"] == v[1]
                 and h["totals"][k]["answered"] == v[2]
                 and h["totals"][k]["answer_rate"] == (round(v[4] / v[3], 4) if v[3] else 0)
                 for k, v in tot.items()) if s == 200 else False
        check(ok, "…and the totals, drills kept apart, count only its people", (h.get("totals"), tot))

        # --- hr: HR broadcasts only ------------------------------------------
        s, j = compose(api, "試験H 人事", {"people": ["B1", "B6"]})
        bid_h = j.get("id")
        pg.psql("UPDATE broadcasts SET sender = 'hr' WHERE id = %d" % bid_h)
        s, h = hr.get("/api/v1/broadcasts")
        check(s == 200 and [x["id"] for x in h["broadcasts"]] == [bid_h] and h["broadcasts"][0]["recipients"] == 2,
              "hr: the history lists the HR broadcast only, with all its recipients", h)
        s1, _ = hr.get("/api/v1/broadcasts/%d" % bid_h)
        s2, j2 = hr.get("/api/v1/broadcasts/%d" % bid_a)
        check(s1 == 200 and s2 == 404, "hr: an HR broadcast is 200, a safety broadcast 404", (s1, s2, j2))
        s, j = hr.get("/api/v1/broadcasts/%d/groups" % bid_h)
        check(s == 200 and j.get("groups") == [], "hr: the per-group tally shows no groups (no directory)", j)
        s, h = ga.get("/api/v1/broadcasts?limit=1000")
        check(bid_h not in [x["id"] for x in h.get("broadcasts", [])],
              "group admin: the HR mail to people outside its groups is not in its history")
        s, j = hr.post("/api/v1/broadcasts", body={"subject": "x", "body": "x", "questions": QUESTIONS,
                                                     "audience": {"people": ["B1"]}})
        check(s == 403, "hr may not compose (403 from the gate)", (s, j))

        # --- compose as the group admin --------------------------------------
        n_before = pg.psql("SELECT count(*) FROM broadcasts")
        s1, j1 = compose(ga, "試験G 範囲外の人", {"people": ["B1"]})
        s2, j2 = compose(ga, "試験G 未知の人", {"people": ["ZZ8"]})
        check(s1 == 400 and s2 == 400 and j1["error"].replace("B1", "X") == j2["error"].replace("ZZ8", "X")
              and pg.psql("SELECT count(*) FROM broadcasts") == n_before,
              "group admin: a person outside its scope is refused exactly like an unknown one", (j1, j2))
        s1, j1 = compose(ga, "試験G 範囲外の組織", {"groups": [int(gid["本省"])]})
        s2, j2 = compose(ga, "試験G 未知の組織", {"groups": [999998]})
        check(s1 == 400 and s2 == 400
              and j1["error"].replace(str(gid["本省"]), "X") == j2["error"].replace("999998", "X")
              and pg.psql("SELECT count(*) FROM broadcasts") == n_before,
              "group admin: a group outside its scope is refused exactly like an unknown one", (j1, j2))
        s, j = compose(ga, "試験G 宮城", {"regions": ["04"]})
        bid_g = j.get("id")
        check(s == 201 and recipients_of(pg, bid_g) == expect_audience(regions=["04"], scope=SCOPE) == ["B7"],
              "group admin: a region is intersected with its people (宮城県: B7, not B5)", (s, j))
        s, b = ga.get("/api/v1/broadcasts/%d" % bid_g)
        check(s == 200 and b.get("created_by") == "ga-somu", "created_by is the signed-in login", b.get("created_by"))
        s, j = compose(ga, "試験G 地域なし", {"regions": ["47"]})
        check(s == 400 and "nobody" in j.get("error", ""), "group admin: a region with none of its people: 400", j)

        # --- resend by the group admin reaches only its unanswered --------------
        s, j = compose(api, "試験R 再送範囲", {"groups": [int(gid["本省"])]})
        bid_r = j.get("id")
        settle(anpid, sink)
        http(reply_link(sink, "試験R", "b2@example.jp"), urllib.parse.urlencode({"safety": "無事"}).encode())
        before = len(sink.messages())
        s, j = ga.post("/api/v1/broadcasts/%d/resend" % bid_r, body={"by": "試験 係長"})
        want = sorted(a for p in ("B3", "B4", "B7") for a in ADDR[p])
        check(s == 202 and j.get("round") == 1 and j.get("recipients") == 3 and j.get("deliveries") == len(want)
              and j.get("scope") == "partial", "group admin resend: a round to its 3 unanswered only", (s, j))
        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験R", before))
        check(got == want, "…at the sink: B3, B4, B7 got it; B1 (unanswered, outside) and B2 (answered) did not",
              "want %s\ngot %s" % (want, got))
        audit = pg.psql("SELECT actor || '|' || (detail->>'scope') || '|' || coalesce(detail->>'note', '')"
                        " FROM audit_log WHERE action = 'broadcast.resend' AND object = 'broadcast:%d'" % bid_r)
        check(audit == "ga-somu|partial|試験 係長", "…audited as the group admin, \"by\" kept as a note", audit)
        row = pg.psql("SELECT rounds_sent || '|' || max_resends FROM broadcasts WHERE id = %d" % bid_r)
        check(row == "1|0", "…the round is numbered; no automatic round was set, so none is added", row)
        before = len(sink.messages())
        s, j = api.post("/api/v1/broadcasts/%d/resend" % bid_r)
        want = sorted(a for p in ("B1", "B3", "B4", "B7") for a in ADDR[p])
        settle(anpid, sink)
        got = sorted(r for r, _s, _t in mails(sink, "試験R", before))
        check(s == 202 and j.get("round") == 2 and j.get("scope") == "all" and got == want,
              "a system admin's resend after it: round 2 to every unanswered, B1 included", (s, j, got))
        s, j = ga.post("/api/v1/broadcasts/%d/resend" % bid_o)
        check(s == 404, "group admin: resend of a broadcast outside its scope is 404", (s, j))
        # a partial round leaves the automatic rounds to everyone else
        pg.psql("UPDATE broadcasts SET resend_after = '1 hour', max_resends = 3 WHERE id = %d" % bid_r)
        last = pg.psql("SELECT last_round_at FROM broadcasts WHERE id = %d" % bid_r)
        s, j = ga.post("/api/v1/broadcasts/%d/resend" % bid_r)
        row = pg.psql("SELECT rounds_sent || '|' || max_resends || '|' || (last_round_at = '%s')"
                      " FROM broadcasts WHERE id = %d" % (last, bid_r))
        check(s == 202 and j.get("round") == 3 and row == "3|4|true",
              "a partial round takes the next number but costs no automatic round and keeps their schedule",
              (s, j, row))

        # --- write-back -------------------------------------------------------
        s, j = ga.post("/api/v1/broadcasts/%d/people/B1/message" % bid_r, body={"text": "連絡ください"})
        s2, j2 = ga.post("/api/v1/broadcasts/%d/people/B6/message" % bid_r, body={"text": "連絡ください"})
        check(s == 404 and s2 == 404 and j.get("error") == j2.get("error"),
              "group admin: write-back to a person outside its scope is the same 404 as to a non-recipient",
              (j, j2))
        s, j = ga.post("/api/v1/broadcasts/%d/people/B3/message" % bid_r, body={"text": "連絡ください"})
        wb = pg.psql("SELECT created_by FROM write_backs ORDER BY id DESC LIMIT 1")
        check(s == 201 and wb == "ga-somu", "group admin: write-back to its own person, stored under its login",
              (s, j, wb))

        # --- preview, match all, city codes ------------------------------------
        for p, codes in CITIES.items():
            for c in codes:
                pg.psql("INSERT INTO person_cities (person_id, city) VALUES ('%s', %d)" % (p, c))
        n_before = pg.psql("SELECT count(*) FROM broadcasts")
        cases = [
            ("any: groups and regions", api, {"groups": [int(gid["本省/総務課"])], "regions": ["04"]},
             dict(groups=["本省/総務課"], regions=["04"]), None),
            ("all: 本省 and its subgroups in 東京都 or 宮城県, plus B6", api,
             {"groups": [int(gid["本省"])], "regions": ["13", "04"], "match": "all", "people": ["B6"]},
             dict(groups=["本省"], regions=["13", "04"], match="all", people=["B6"]), None),
            ("all: direct members of 総務課 in two cities", api,
             {"groups": [int(gid["本省/総務課"])], "subgroups": False, "regions": ["14100", "27100"],
              "match": "all"},
             dict(groups=["本省/総務課"], subgroups=False, regions=["14100", "27100"], match="all"), None),
            ("a city code alone", api, {"regions": ["04100"]}, dict(regions=["04100"]), None),
            ("all with regions only", api, {"regions": [14, 27], "match": "all"},
             dict(regions=["14", "27"], match="all"), None),
            ("group admin: 東京都 seen through its scope", ga, {"regions": ["13"]}, dict(regions=["13"]), SCOPE),
            ("group admin: all of its groups in 神奈川県 or 大阪市", ga,
             {"groups": [int(gid["本省/総務課"])], "regions": ["14", "27100"], "match": "all"},
             dict(groups=["本省/総務課"], regions=["14", "27100"], match="all"), SCOPE),
        ]
        for what, who, aud, spec, scope in cases:
            s, j = who.post("/api/v1/broadcasts/preview", body={"audience": aud})
            want = expect_audience(scope=scope, **spec)
            check(s == 200 and j.get("recipients") == len(want) and j.get("sample") == want[:20]
                  and isinstance(j.get("elapsed_ms"), (int, float)) and j["elapsed_ms"] >= 0,
                  "preview, " + what + ": " + ",".join(want), (s, j, want))
        check(pg.psql("SELECT count(*) FROM broadcasts") == n_before, "previews created nothing")
        aud = {"groups": [int(gid["本省"])], "regions": ["13", "04"], "match": "all"}
        s, pv = api.post("/api/v1/broadcasts/preview", body={"subject": "試験M", "audience": aud})
        s2, j = compose(api, "試験M 全条件", aud)
        check(s == 200 and s2 == 201 and j.get("recipients") == pv.get("recipients")
              and recipients_of(pg, j.get("id")) == pv.get("sample"),
              "compose with match all reaches exactly the people the preview named", (pv, j))
        s, j = ga.post("/api/v1/broadcasts/preview", body={"audience": {"people": ["B5"]}})
        check(s == 400 and "B5" in j.get("error", ""), "preview as group admin: a person outside scope is 400", j)
        for bad_aud, needle in (({"regions": ["4x"]}, "regions[0]"), ({"regions": ["1310"]}, "regions[0]"),
                                ({"regions": ["48100"]}, "regions[0]"),
                                ({"groups": [1], "match": "some"}, "match")):
            s, j = api.post("/api/v1/broadcasts/preview", body={"audience": bad_aud})
            check(s == 400 and needle in j.get("error", ""), "preview refuses " + json.dumps(bad_aud), (s, j))
        s, j = api.post("/api/v1/broadcasts/preview", body={"subject": "", "audience": {"people": ["B1"]}})
        check(s == 400 and "subject" in j.get("error", ""), "preview checks a subject that is given", (s, j))
        s, j = hr.post("/api/v1/broadcasts/preview", body={"audience": {"people": ["B1"]}})
        check(s == 403, "hr may not preview (403)", s)

        # --- approvals: the officer is the signed-in account -------------------
        n = pg.psql("SELECT count(*) FROM audit_log WHERE action = 'broadcast.manual' AND actor = 'ga-somu'")
        check(n == "1", "the group admin's compose is audited under its login", n)

        # =====================================================================
        # The tally cache (admin-api/endpoints/tallycache.c): one whole-tree
        # count per broadcast per second, a group admin's rows cut from it.
        # =====================================================================
        s, j = compose(api, "試験T 集計キャッシュ", {"people": ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]})
        bid_t = j.get("id")
        settle(anpid, sink)
        ga2_tok = token_for(pg, "ga-cache", "group-admin", [gid["本省/総務課"]])
        ga2 = harness.Api(anpid.admin_url, ga2_tok)
        ga2_id = int(pg.psql("SELECT id FROM accounts WHERE login = 'ga-cache'"))
        path_t = "/api/v1/broadcasts/%d/groups" % bid_t

        def raw_of(tok, path):
            req = urllib.request.Request(anpid.admin_url.rstrip("/") + path,
                                         headers={"Authorization": "Bearer " + tok})
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.read().decode()

        def sql_tally_of(acc, bid):
            return pg.psql("SELECT anpi_broadcast_groups_json(%d, %d)::text" % (acc, bid))

        raw = lambda tok: raw_of(tok, path_t)  # noqa: E731
        sql_tally = lambda acc: sql_tally_of(acc, bid_t)  # noqa: E731

        def row_of(j, path):
            return next((g for g in j.get("groups", []) if g.get("path") == path), {})

        s, whole = api.get(path_t)
        s2, mine = ga2.get(path_t)
        scope_ids = {int(gid["本省/総務課"]), int(gid["本省/総務課/庶務係"])}
        check(s == 200 and s2 == 200 and any(g["id"] is None for g in whole.get("groups", []))
              and mine.get("groups") == [g for g in whole["groups"] if g["id"] in scope_ids]
              and mine.get("broadcast_id") == bid_t and len(mine["groups"]) == 2,
              "tally cache: a group admin's rows are exactly the whole tree's rows of its groups, in order",
              (whole, mine))
        check(raw(ga2_tok) == sql_tally(ga2_id) and raw(api.token) == sql_tally(0),
              "…byte for byte what the SQL function answers, for the group admin and for the whole tree",
              (raw(ga2_tok), sql_tally(ga2_id)))

        # an answer stored behind anpid's back (as by another node): the cached
        # count is served, then the new one.  Its own broadcast, so that the
        # counts below do not depend on how many tries this took.
        s, j = compose(api, "試験S 他ノードの回答", {"people": ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]})
        bid_s = j.get("id")
        settle(anpid, sink)
        path_s = "/api/v1/broadcasts/%d/groups" % bid_s
        def both_s():   # 総務課's answered count as the group admin and as the whole tree see it
            return (row_of(ga2.get(path_s)[1], "本省/総務課").get("answered"),
                    row_of(api.get(path_s)[1], "本省/総務課").get("answered"))

        def answer_behind(i):
            pg.psql("SELECT anpi_answer(r.id, '{\"safety\": \"無事\"}', '', 'test', '127.0.0.1')"
                    " FROM recipients r WHERE r.broadcast_id = %d AND r.person_id = '%s'"
                    % (bid_s, ("B3", "B2", "B4", "B7")[i]))
        stale, tries, seen = harness.served_stale(both_s, answer_behind, 4)
        check(stale and seen[0][0] == (0, 0),
              "tally cache: right after an answer stored elsewhere the cached count is served, to the group "
              "admin and to the whole tree (the SQL function would count it)", seen)
        check(harness.eventually(lambda: both_s() == (tries, tries), 10)
              and raw_of(ga2_tok, path_s) == sql_tally_of(ga2_id, bid_s),
              "…and the answers show once the count is renewed", (tries, both_s()))

        # an answer through this node's reply page shows in the very next
        # tally: the reply drops the cached count (a cached one would still be
        # served, as above).  A quiet spell first, so that it is not taken
        # for a burst (below).
        time.sleep(TALLY_REFRESH_S + 0.1)
        warm = row_of(ga2.get(path_t)[1], "本省/総務課").get("answered")
        st, _page = http(reply_link(sink, "試験T", "b4@example.jp"), urllib.parse.urlencode({"safety": "軽傷"}).encode())
        now = ga2.get(path_t)[1]
        check(st == 200 and warm == 0 and row_of(now, "本省/総務課").get("answered") == 1
              and row_of(now, "本省/総務課").get("answers", {}).get("safety", {}).get("軽傷") == 1
              and raw(ga2_tok) == sql_tally(ga2_id),
              "tally cache: an answer through the reply page shows in the very next tally", (st, warm, now))

        # a burst of answers (the next within TALLY_REFRESH_MS of the last):
        # the count is not dropped at each but counted again back to back and
        # the last one served meanwhile.  What can be checked from outside is
        # that every answer shows; that the second was counted by the burst's
        # recount and not by the 1 s expiry is not told apart here.
        time.sleep(TALLY_REFRESH_S + 0.1)
        links = [reply_link(sink, "試験T", a) for a in ("b2@example.jp", "b7@example.jp")]
        sts = [http(links[0], urllib.parse.urlencode({"safety": "無事"}).encode())[0]]
        first = row_of(ga2.get(path_t)[1], "本省/総務課").get("answered")   # after a quiet spell: at once
        sts.append(http(links[1], urllib.parse.urlencode({"safety": "無事"}).encode())[0])
        ok_burst = harness.eventually(lambda: row_of(ga2.get(path_t)[1], "本省/総務課").get("answered") == 3, 10)
        check(sts == [200, 200] and first == 2 and ok_burst and raw(ga2_tok) == sql_tally(ga2_id),
              "tally cache: two answers in a burst both show", (sts, first, ga2.get(path_t)[1]))

        # A change notified by the database shows without waiting for the
        # caches' own refresh (5 s).  For after_notify's 3 s to tell the two
        # apart, the entry must be new when the change is made: a new group
        # admin (its set of groups) and a new token (its credential), each
        # used for the first time just before the change.
        #
        # a group moved under the group admin's group (a change of the tree):
        # its row is in the admin's tally once notified, and gone once notified
        # when it moves back
        tohoku, chiho, somu = int(gid["地方/東北"]), int(gid["地方"]), int(gid["本省/総務課"])
        _aid, move_tok = harness.account_token(pg, "ga-move", "group-admin", [somu])
        ga_move = harness.Api(anpid.admin_url, move_tok)
        ids_of = lambda: {g["id"] for g in ga_move.get(path_t)[1].get("groups", [])}  # noqa: E731
        before_ids = ids_of()
        pg.psql("UPDATE groups SET parent_id = %d WHERE id = %d" % (somu, tohoku))
        moved_in = harness.after_notify(lambda: tohoku in ids_of())
        pg.psql("UPDATE groups SET parent_id = %d WHERE id = %d" % (chiho, tohoku))
        moved_out = harness.after_notify(lambda: tohoku not in ids_of())
        check(tohoku not in before_ids and moved_in and moved_out,
              "tally cache: a group moved into / out of the admin's subtree shows / vanishes once notified",
              (before_ids, moved_in, moved_out))

        # a group admin disabled behind anpid's back is refused once the
        # notification arrives, while the tally it saw is still warm
        fresh_tok = harness.token_for_account(pg, ga2_id)
        ga_fresh = harness.Api(anpid.admin_url, fresh_tok)
        s1, _j = ga_fresh.get(path_t)
        pg.psql("UPDATE accounts SET disabled_at = now() WHERE login = 'ga-cache'")
        s2 = harness.after_notify(lambda: ga_fresh.get(path_t)[0] == 401)
        check(s1 == 200 and s2, "tally cache: a disabled group admin gets 401 once notified", (s1, s2))
        s, j = hr.get(path_t)
        check(s == 404, "tally cache: hr still asks SQL: a non-HR broadcast is 404", (s, j))

        rc = anpid.stop()
        check(rc == 0, "anpid stops cleanly", "exit %s\n%s" % (rc, harness._tail(anpid.logfile)))


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-bcast-"))
