"""Automatic resend rounds to those who have not answered, with a deadline
of their own and their own wording per round: a broadcast composed by hand
("follow_up" in POST /api/v1/broadcasts) and a rule's follow_up (until,
wording) on a real JMA report from ../shared/corpus.

Time is driven by moving broadcasts.last_round_at / created_at back with
psql; the housekeeping tick (every 2 s) does the rest.  Real PostgreSQL 15,
Postfix's smtp-sink and anpid as built.  Synthetic directory only (試験
names, example.jp).  Prints TAP."""

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SHARED = os.environ.get("ANPI_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")
SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
OFFICIAL = os.path.join(SHARED, "corpus", "jma", "official-samples")
# the 2009 駿河湾 quake: intensity 6- in 静岡県 (22)
QUAKE = os.path.join(OFFICIAL, "32-35_07_01_100915_VXSE51.xml")

# F*: people the hand-composed broadcasts go to; S*: 静岡県 (the rule's
# audience).  F2 and S2 have two addresses.
PEOPLE_CSV = """id,name,kana,emails,regions,groups
D1,試験 当直,しけん とうちょく,duty1@example.jp,13,duty-officers
F1,試験 一郎,しけん いちろう,f1@example.jp,13,本社
F2,試験 二郎,しけん じろう,f2@example.jp;f2.m@example.jp,13,本社
F3,試験 三郎,しけん さぶろう,f3@example.jp,13,本社
F4,試験 四郎,しけん しろう,f4@example.jp,13,本社
S1,試験 静岡一,,s1@example.jp,22,静岡
S2,試験 静岡二,,s2@example.jp;s2.m@example.jp,22,静岡
S3,試験 静岡三,,s3@example.jp,22,静岡
"""
ADDR = {}
for _line in PEOPLE_CSV.strip().splitlines()[1:]:
    _f = _line.split(",")
    ADDR[_f[0]] = _f[3].split(";")

QUESTIONS = [{"id": "safety", "text": "ご自身の状況", "choices": ["無事", "軽傷", "重傷"]}]

RULES_YAML = """pack: follow-up-test
rules:
  - id: follow-up-quake
    when: {event: earthquake, status: actual, intensity_at_least: "5-", where: [22]}
    incident: {key: event_key}
    approval: none
    audience: {regions: affected_prefectures}
    message:
      template: safety-check
      questions:
        - {id: safety, text: "ご自身の状況", choices: ["無事", "軽傷", "重傷"]}
    follow_up:
      resend_unanswered_after: 1m
      max_resends: 3
      until: 2h
      wording:
        - {subject: "規則文面一 {{incident.title}}", body: "{{person.name}} 様\\n規則の一回目の再送です。\\n{{reply_url}}"}
        - subject: "規則文面二 {{affected_prefectures}}"
          body: |
            {{person.name}} 様
            規則の二回目以降の再送です。
            {{reply_url}}
"""

tap = harness.Tap()
check = tap.check


def http(url, data=None):
    return harness.form_request(url, data)[:2]


settle = harness.settle


def new_mails(sink, start):
    """[(recipient, subject, text)] of the mails after the first `start`."""
    return harness.sink_mails(sink, None, start)


reply_link = harness.reply_link


def answer(mails, person):
    link = reply_link(mails, ADDR[person][0])
    if not link:
        return None
    return http(link, urllib.parse.urlencode({"safety": "無事"}).encode())[0]


def addresses(people):
    return sorted(a for p in people for a in ADDR[p])


def rounds_sent(pg, bid):
    return int(pg.psql("SELECT rounds_sent FROM broadcasts WHERE id = %d" % bid))


def drained(pg, bid):
    """Wait until no delivery of the broadcast waits in the queue (the tick's
    new rounds are claimed on the dispatcher's next turn)."""
    harness.wait_for(lambda: pg.psql("SELECT count(*) FROM deliveries WHERE broadcast_id = %d"
                                     " AND status IN ('queued', 'sending', 'deferred')" % bid) == "0",
                     15, what="the deliveries of broadcast %d to go out" % bid)


def next_round(anpid, pg, sink, bid, want):
    """Move the schedule back so the tick starts round `want`; returns the
    mails of that round."""
    start = len(sink.messages())
    pg.psql("UPDATE broadcasts SET last_round_at = now() - interval '2 minutes' WHERE id = %d" % bid)
    harness.wait_for(lambda: rounds_sent(pg, bid) >= want, 15, what="resend round %d" % want)
    drained(pg, bid)
    settle(anpid, sink)
    return new_mails(sink, start)


def no_round(anpid, pg, sink, bid, move_created=None):
    """Move the schedule back (and created_at when given), give the tick
    three turns; returns (rounds before, rounds after, mails sent)."""
    start = len(sink.messages())
    before = rounds_sent(pg, bid)
    if move_created:
        pg.psql("UPDATE broadcasts SET created_at = now() - interval '%s' WHERE id = %d" % (move_created, bid))
    pg.psql("UPDATE broadcasts SET last_round_at = now() - interval '2 minutes' WHERE id = %d" % bid)
    time.sleep(6.5)
    settle(anpid, sink)
    return before, rounds_sent(pg, bid), new_mails(sink, start)


def compose(api, subject, people, follow_up=None, body="{{person.name}} さん\n安否を回答してください。"):
    doc = {"subject": subject, "body": body, "questions": QUESTIONS, "audience": {"people": people}}
    if follow_up is not None:
        doc["follow_up"] = follow_up
    return api.post("/api/v1/broadcasts", body=doc)


def phase_manual(anpid, pg, sink):
    api = anpid.api
    W1 = {"subject": "文面一 至急ご回答ください", "body": "{{person.name}} さん\n一回目の再送です。"}
    W2 = {"subject": "文面二 最終のお願い", "body": "{{person.name}} さん\n二回目以降の再送です。\n{{reply_url}}\n"}

    # --- refused follow_up: clear 400s, nothing created ---------------------
    n_before = pg.psql("SELECT count(*) FROM broadcasts")
    bad = [
        ([], "\"follow_up\" must be an object"),
        ({"every_minutes": 0, "rounds": 3}, "follow_up.every_minutes"),
        ({"every_minutes": "5", "rounds": 3}, "follow_up.every_minutes"),
        ({"every_minutes": 5}, "follow_up.rounds"),
        ({"every_minutes": 5, "rounds": 11}, "follow_up.rounds must be a whole number from 1 to 10"),
        ({"every_minutes": 5, "rounds": 2.5}, "follow_up.rounds"),
        ({"every_minutes": 30, "rounds": 2, "until_minutes": 10}, "shorter than every_minutes"),
        ({"every_minutes": 5, "rounds": 2, "until_minutes": 0}, "follow_up.until_minutes"),
        ({"every_minutes": 5, "rounds": 2, "wording": [W1, W2, W1]}, "follow_up.wording must be an array of 1 to 2"),
        ({"every_minutes": 5, "rounds": 2, "wording": []}, "follow_up.wording must be an array"),
        ({"every_minutes": 5, "rounds": 2, "wording": [{"subject": "x"}]}, "follow_up.wording[0].body"),
        ({"every_minutes": 5, "rounds": 2, "wording": [W1, {"subject": "a\nb", "body": "b"}]},
         "follow_up.wording[1].subject must be a non-empty line"),
        ({"every_minutes": 5, "rounds": 2, "wording": [{"subject": "s", "body": "{{person.nmae}}"}]},
         "follow_up.wording[0].body:1:1: unknown template variable {{person.nmae}}"),
        ({"every_minutes": 5, "rounds": 2, "wording": [{"subject": "s", "body": "b", "html": "h"}]},
         "follow_up.wording[0].html is not known"),
        ({"every_minutes": 5, "rounds": 2, "every": 3}, "follow_up.every is not known"),
    ]
    for fu, needle in bad:
        s, j = compose(api, "試験 拒否", ["F1"], fu)
        check(s == 400 and needle in j.get("error", ""), "follow_up %s: 400 naming %s" % (json.dumps(fu, ensure_ascii=False), needle),
              (s, j))
    check(pg.psql("SELECT count(*) FROM broadcasts") == n_before, "the refused requests created nothing")

    # --- every 1 min x 3 rounds, 2 wordings --------------------------------
    start = len(sink.messages())
    s, j = compose(api, "試験 手動 安否確認", ["F1", "F2", "F3", "F4"],
                   {"every_minutes": 1, "rounds": 3, "until_minutes": 30, "wording": [W1, W2]})
    check(s == 201 and j.get("recipients") == 4
          and j.get("follow_up") == {"every_s": 60, "rounds": 3, "until_s": 1800, "wording": 2},
          "compose with follow_up: 201, the schedule in the answer", (s, j))
    bid = j.get("id")
    row = pg.psql("SELECT resend_after || '|' || max_resends || '|' || resend_until || '|'"
                  " || jsonb_array_length(resend_wording) FROM broadcasts WHERE id = %d" % bid)
    check(row == "00:01:00|3|00:30:00|2", "stored: every 1 min, 3 rounds, until 30 min, 2 wordings", row)
    n = pg.psql("SELECT count(*) FROM audit_log WHERE action = 'broadcast.follow_up' AND object = 'broadcast:%d'" % bid)
    check(n == "1", "the follow-up is audited", n)
    drained(pg, bid)
    settle(anpid, sink)
    first = new_mails(sink, start)
    check(sorted(r for r, _s, _t in first) == addresses(["F1", "F2", "F3", "F4"])
          and all(s == "試験 手動 安否確認" for _r, s, _t in first),
          "the first mail: everyone, the composed subject, not marked 再送", first)

    # F1 answers; round 1 (wording 1) goes to the others only
    check(answer(first, "F1") == 200, "F1 answers through the reply page")
    r1 = next_round(anpid, pg, sink, bid, 1)
    check(sorted(r for r, _s, _t in r1) == addresses(["F2", "F3", "F4"]),
          "round 1 reaches the unanswered only (both of F2's addresses, never F1)", r1)
    check(r1 and all(s == "【再送】" + W1["subject"] for _r, s, _t in r1),
          "round 1 uses wording 1's subject, marked 【再送】", sorted({s for _r, s, _t in r1}))
    check(r1 and all("一回目の再送です。" in t and "試験 " in t and "/r/" in t for _r, _s, t in r1),
          "round 1 uses wording 1's body, with the person's name and the reply link added", r1[:1])
    check(not any("安否を回答してください" in t for _r, _s, t in r1), "round 1 does not repeat the first body")

    # F2 answers; rounds 2 and 3 use wording 2 (the last repeats)
    check(answer(r1, "F2") == 200, "F2 answers the link of round 1")
    r2 = next_round(anpid, pg, sink, bid, 2)
    check(sorted(r for r, _s, _t in r2) == addresses(["F3", "F4"]), "round 2 reaches F3 and F4 only", r2)
    check(r2 and all(s == "【再送】" + W2["subject"] and "二回目以降の再送です。" in t for _r, s, t in r2),
          "round 2 uses wording 2", sorted({s for _r, s, _t in r2}))
    r3 = next_round(anpid, pg, sink, bid, 3)
    check(sorted(r for r, _s, _t in r3) == addresses(["F3", "F4"]) and r3
          and all(s == "【再送】" + W2["subject"] for _r, s, _t in r3),
          "round 3 repeats wording 2 (the last entry) to the unanswered", r3)
    rounds = pg.psql("SELECT string_agg(DISTINCT round::text, ',' ORDER BY round::text) FROM deliveries"
                     " WHERE broadcast_id = %d AND person_id IN ('F1', 'F2') AND round > 0" % bid)
    check(rounds == "1", "the answered got no round after answering (F1 none, F2 only round 1)", rounds)
    before, after, mails = no_round(anpid, pg, sink, bid)
    check(before == 3 and after == 3 and not mails, "after 3 rounds no fourth starts", (before, after, mails))

    # --- the deadline: no round starts after until_minutes -----------------
    start = len(sink.messages())
    s, j = compose(api, "試験 手動 期限", ["F3", "F4"], {"every_minutes": 1, "rounds": 3, "until_minutes": 5})
    bid2 = j.get("id")
    check(s == 201 and j.get("follow_up", {}).get("until_s") == 300 and j["follow_up"].get("wording") == 0,
          "compose with until 5 min and no wording", (s, j))
    drained(pg, bid2)
    settle(anpid, sink)
    r1 = next_round(anpid, pg, sink, bid2, 1)
    check(sorted(r for r, _s, _t in r1) == addresses(["F3", "F4"]) and r1
          and all(s == "【再送】試験 手動 期限" for _r, s, _t in r1),
          "without wording a round repeats the composed subject, marked 【再送】", r1)
    before, after, mails = no_round(anpid, pg, sink, bid2, move_created="6 minutes")
    check(before == 1 and after == 1 and not mails, "6 minutes after the first mail (deadline 5): no round starts",
          (before, after, mails))
    # the same, inside the deadline, does start one: the deadline was the reason
    pg.psql("UPDATE broadcasts SET created_at = now() - interval '4 minutes' WHERE id = %d" % bid2)
    r2 = next_round(anpid, pg, sink, bid2, 2)
    check(sorted(r for r, _s, _t in r2) == addresses(["F3", "F4"]), "4 minutes after the first mail: round 2 starts", r2)

    # a broadcast without follow_up has no automatic rounds, as before
    s, j = compose(api, "試験 手動 なし", ["F4"])
    check(s == 201 and "follow_up" not in j, "compose without follow_up: as before", (s, j))
    bid3 = j.get("id")
    drained(pg, bid3)
    settle(anpid, sink)
    row = pg.psql("SELECT coalesce(resend_after::text, '-') || '|' || max_resends || '|'"
                  " || coalesce(resend_until::text, '-') || '|' || coalesce(resend_wording::text, '-')"
                  " FROM broadcasts WHERE id = %d" % bid3)
    check(row == "-|0|-|-", "…nothing scheduled", row)
    # a round by hand on the follow-up broadcast still goes to the unanswered
    start = len(sink.messages())
    s, j = api.post("/api/v1/broadcasts/%d/resend" % bid, body={})
    check(s == 202 and j.get("round") == 4, "a resend by hand after the automatic rounds: round 4", (s, j))
    drained(pg, bid)
    settle(anpid, sink)
    hand = new_mails(sink, start)
    check(sorted(r for r, _s, _t in hand) == addresses(["F3", "F4"])
          and all(s == "【再送】" + W2["subject"] for _r, s, _t in hand),
          "…to the unanswered, in the last wording", hand)


def phase_rule(anpid, pg, sink, tmp):
    api = anpid.api
    start = len(sink.messages())
    with open(QUAKE, "rb") as f:
        doc = f.read()
    s, _j = api.post("/api/v1/feeds/jma/documents?replay=1", body=doc, content_type="application/xml")
    check(s == 202, "the 駿河湾 report is accepted", s)

    def released():
        out = pg.psql("SELECT id FROM broadcasts WHERE rule_id = 'follow-up-quake' AND kind = 'safety'")
        return out and int(out)
    bid = harness.wait_for(released, 20, what="the rule's safety broadcast")
    row = pg.psql("SELECT resend_after || '|' || max_resends || '|' || resend_until || '|'"
                  " || jsonb_array_length(resend_wording) FROM broadcasts WHERE id = %d" % bid)
    check(row == "00:01:00|3|02:00:00|2", "the rule's follow_up is on its broadcast: 1 min, 3 rounds, until 2h, 2 wordings",
          row)
    drained(pg, bid)
    settle(anpid, sink)
    first = new_mails(sink, start)
    check(sorted(r for r, _s, _t in first) == addresses(["S1", "S2", "S3"])
          and all(s.startswith("【安否確認】") for _r, s, _t in first),
          "the first mail: 静岡県, the rule's own template", sorted({s for _r, s, _t in first}))
    check(answer(first, "S1") == 200, "S1 answers")
    r1 = next_round(anpid, pg, sink, bid, 1)
    check(sorted(r for r, _s, _t in r1) == addresses(["S2", "S3"]), "rule round 1: the unanswered only", r1)
    check(r1 and all(s.startswith("【再送】規則文面一 ") and len(s) > len("【再送】規則文面一 ")
                     and "規則の一回目の再送です。" in t and "/r/" in t for _r, s, t in r1),
          "rule round 1 uses wording 1, its variables filled", r1[:1])
    r2 = next_round(anpid, pg, sink, bid, 2)
    check(sorted(r for r, _s, _t in r2) == addresses(["S2", "S3"]) and r2
          and all(s == "【再送】規則文面二 静岡県" and "規則の二回目以降の再送です。" in t for _r, s, t in r2),
          "rule round 2 uses wording 2 ({{affected_prefectures}} filled)", sorted({s for _r, s, _t in r2}))
    # past the rule's until (2h after the first mail): round 3 does not start
    before, after, mails = no_round(anpid, pg, sink, bid, move_created="2 hours 1 minute")
    check(before == 2 and after == 2 and not mails, "past the rule's until (2h): no third round", (before, after, mails))
    n = pg.psql("SELECT count(*) FROM deliveries WHERE broadcast_id = %d AND person_id = 'S1' AND round > 0" % bid)
    check(n == "0", "the person who answered got no resend at all", n)


def run(tmp):
    rules_dir = os.path.join(tmp, "rules")
    os.makedirs(os.path.join(rules_dir, "templates"))
    with open(os.path.join(rules_dir, "follow-up.yaml"), "w", encoding="utf-8") as f:
        f.write(RULES_YAML)
    tdir = os.path.join(SRC, "tests", "integration", "rules", "timeouts", "templates")
    for name in os.listdir(tdir):
        shutil.copy(os.path.join(tdir, name), os.path.join(rules_dir, "templates", name))
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        cfg = harness.base_config(pg, sink, rules={"paths": [rules_dir]})
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        s, j = anpid.api.post("/api/v1/people/import", body=PEOPLE_CSV.encode(), content_type="text/csv")
        check(s == 200 and j.get("rows") == 8, "the synthetic directory is imported", (s, j))
        phase_manual(anpid, pg, sink)
        phase_rule(anpid, pg, sink, tmp)
        rc = anpid.stop()
        check(rc == 0, "anpid stops cleanly", "exit %s\n%s" % (rc, harness._tail(anpid.logfile)))


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-followup-"))
