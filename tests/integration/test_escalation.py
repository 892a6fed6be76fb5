"""The admin listener's IP allowlist (api.allow) and escalation by group
answer rate.

Allowlist: anpid with api.allow ["192.0.2.0/24"] answers 127.0.0.1 with 403
on the admin listener while the public listener serves; with ["127.0.0.1"]
it serves; a bad entry is refused at --check with file:line:col.

Escalation: a tree 本部 > 本部/第一課, 本部/第二課; admins linked to people.
A broadcast with its own setting (after 1 minute, below 50%), its creation
moved back with psql: 第一課 (1 of 4 answered) escalates once, mailed to the
admins of 第一課 and of 本部 and nobody else; 第二課 and 本部 (above the
threshold) do not; running the tick again sends nothing more.  A drill
escalates on the configured default and its notice says 【訓練】.  Scope:
outside a group admin's groups the endpoints answer 404.

Real PostgreSQL 15, Postfix's smtp-sink and anpid as built.  Synthetic
directory only (試験 names, example.jp).  Prints TAP."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

# E1-E4 in 第一課, E5-E8 in 第二課; the admins' own records (K*) sit in 管理 so
# they are not asked themselves.
PEOPLE_CSV = """id,name,kana,emails,regions,groups
E1,試験 一郎,しけん いちろう,e1@example.jp,13,本部/第一課
E2,試験 二郎,しけん じろう,e2@example.jp,13,本部/第一課
E3,試験 三郎,しけん さぶろう,e3@example.jp,13,本部/第一課
E4,試験 四郎,しけん しろう,e4@example.jp,13,本部/第一課
E5,試験 五郎,しけん ごろう,e5@example.jp,13,本部/第二課
E6,試験 六郎,しけん ろくろう,e6@example.jp,13,本部/第二課
E7,試験 七郎,しけん しちろう,e7@example.jp,13,本部/第二課
E8,試験 八郎,しけん はちろう,e8@example.jp,13,本部/第二課
K1,試験 課長一,しけん かちょういち,k1@example.jp,13,管理
K2,試験 課長二,しけん かちょうに,k2@example.jp,13,管理
K3,試験 部長,しけん ぶちょう,k3@example.jp,13,管理
K4,試験 課長三,しけん かちょうさん,k4@example.jp,13,管理
K5,試験 別部長,しけん べつぶちょう,k5@example.jp,13,管理
K6,試験 元課長,しけん もとかちょう,k6@example.jp,13,管理
X1,試験 別部員,しけん べつぶいん,x1@example.jp,13,別部
"""
ADDR = {line.split(",")[0]: line.split(",")[3] for line in PEOPLE_CSV.strip().splitlines()[1:]}
QUESTIONS = [{"id": "safety", "text": "ご自身の状況", "choices": ["無事", "負傷"]}]
MARK = "回答率が基準を下回っています"

tap = harness.Tap()
check = tap.check


def get(url):
    return harness.form_request(url)[:2]


class Refused(harness.Anpid):
    """anpid whose admin listener refuses the test's address: ready means
    the admin port answers at all (403 is the expected answer)."""

    def _healthy(self):
        if self.proc.poll() is not None:
            raise harness.HarnessError("anpid exited with %s\n%s" % (self.proc.returncode,
                                                                     harness._tail(self.logfile)))
        try:
            status, _ = get(self.admin_url + "/healthz")
            return status == 403
        except OSError:
            return False


def escalation_mails(sink):
    return harness.sink_mails(sink, MARK)


def settle(anpid, sink, timeout=30):
    harness.settle(anpid, sink, timeout)


def new_token(pg, login, role, person, groups, disabled=False):
    return harness.account_token(pg, login, role, groups, person=person, disabled=disabled)[1]


def allowlist(tmp, pg):
    # --- refused -------------------------------------------------------------
    cfg = harness.base_config(pg)
    cfg["api"]["allow"] = ["192.0.2.0/24"]
    a = Refused(BUILD, cfg, os.path.join(tmp, "allow1"))
    s, body = get(a.admin_url + "/healthz")
    check(s == 403 and "address 127.0.0.1 is not allowed on this listener" in body,
          "api.allow [192.0.2.0/24]: 127.0.0.1 gets 403 on the admin listener", (s, body))
    s, body = get(a.admin_url + "/api/v1/broadcasts")
    check(s == 403, "…on every admin path, before the token is looked at", (s, body))
    s, body = get(a.public_url + "/r/not-a-token")
    check(s != 403 and s < 500 and "not allowed on this listener" not in body,
          "…while the public listener still serves (the reply page answers)", (s, body[:200]))
    check("1 allowed address block(s)" in a.log(), "…and the start-up log says the list is in force",
          harness._tail(a.logfile))
    check(a.stop() == 0, "…anpid stops cleanly")

    # --- served ----------------------------------------------------------------
    cfg["api"]["allow"] = ["127.0.0.1"]
    a = harness.Anpid(BUILD, cfg, os.path.join(tmp, "allow2"))
    s, j = a.api.get("/healthz")
    check(s == 200, "api.allow [127.0.0.1]: the admin listener serves 127.0.0.1", (s, j))
    check(a.stop() == 0, "…anpid stops cleanly")

    # --- absent: everyone, said in the log ---------------------------------------
    del cfg["api"]["allow"]
    a = harness.Anpid(BUILD, cfg, os.path.join(tmp, "allow3"))
    s, _j = a.api.get("/healthz")
    check(s == 200 and "every peer address is allowed" in a.log(),
          "no api.allow: every peer is served and the log says so", harness._tail(a.logfile))

    # --- a bad entry: refused at --check with file:line:col ---------------------------
    cfg["api"]["allow"] = ["10.0.0.0/8", "10.0.0.0/33"]
    a.write_config()
    rc, out = a.check()
    check(rc != 0 and "anpid.yaml:" in out and "api.allow[1]: the prefix length after '/' must be a number "
          "from 0 to 32, got \"10.0.0.0/33\"" in out,
          "a bad api.allow entry: --check fails naming file:line:col and the entry", (rc, out))
    check(a.stop() == 0, "…anpid stops cleanly")


def escalation(tmp, pg, sink):
    cfg = harness.base_config(pg, sink)
    cfg["api"]["allow"] = ["127.0.0.1/32", "::1"]
    # the pass runs every 2 s here (30 s by default) so the test need not wait long
    cfg["escalation"] = {"after": "30m", "below": 0.5, "check_every": "2s"}
    cfg["log"] = {"level": "info"}
    anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "esc"))
    api = anpid.api
    s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV.encode(), content_type="text/csv")
    check(s == 200, "the synthetic directory is imported", (s, j))
    gid = dict(line.split("|")[::-1] for line in pg.psql("SELECT id, path FROM groups").split("\n"))
    check({"本部", "本部/第一課", "本部/第二課", "管理", "別部"} <= set(gid), "the group tree exists", gid)

    # admins: K1, K2 of 第一課 (K2 of 本部 too), K3 of 本部, K4 of 第二課, K5 of
    # 別部; K6 of 第一課 but disabled; "nolink" of 本部 has no person
    tok = {
        "k1": new_token(pg, "kanri-k1", "group-admin", "K1", [gid["本部/第一課"]]),
        "k2": new_token(pg, "kanri-k2", "group-admin", "K2", [gid["本部/第一課"], gid["本部"]]),
        "k3": new_token(pg, "kanri-k3", "group-admin", "K3", [gid["本部"]]),
        "k4": new_token(pg, "kanri-k4", "group-admin", "K4", [gid["本部/第二課"]]),
        "k5": new_token(pg, "kanri-k5", "group-admin", "K5", [gid["別部"]]),
        "k6": new_token(pg, "kanri-k6", "group-admin", "K6", [gid["本部/第一課"]], disabled=True),
        "nolink": new_token(pg, "kanri-nolink", "group-admin", None, [gid["本部"]]),
    }

    s, j = api.post("/api/v1/broadcasts", body={
        "subject": "試験E 安否確認", "body": "{{person.name}} さん\n回答してください。", "questions": QUESTIONS,
        "audience": {"groups": [int(gid["本部"])], "subgroups": True}, "by": "試験 管理者"})
    check(s == 201 and j.get("recipients") == 8, "a safety check to 本部 and its subgroups", (s, j))
    bid = j.get("id")
    settle(anpid, sink)
    pg.psql("UPDATE recipients SET answered_at = now() WHERE broadcast_id = %d"
            " AND person_id IN ('E1', 'E5', 'E6', 'E7', 'E8')" % bid)

    # --- the API: settings, validation, scope -------------------------------------
    s, j = api.get("/api/v1/broadcasts/%d/escalations" % bid)
    check(s == 200 and j.get("settings", {}).get("source") == "config" and j.get("escalations") == [],
          "before any setting: the configured default applies and nothing was sent", (s, j))
    for body, what in (({"after_minutes": 1, "below": 1.5}, "below over 1"),
                       ({"after_minutes": -1, "below": 0.5}, "negative minutes"),
                       ({"after_minutes": "1", "below": 0.5}, "minutes as a string"),
                       ({"after_minutes": 1}, "below missing"),
                       ({"after_minutes": 1, "below": 0.5, "to": "x"}, "an unknown field")):
        s, j = api.post("/api/v1/broadcasts/%d/escalation" % bid, body=body)
        check(s == 400 and j.get("error"), "POST escalation refuses %s with 400" % what, (s, j))
    s, j = harness.Api(anpid.admin_url, tok["k5"]).post("/api/v1/broadcasts/%d/escalation" % bid,
                                                        body={"after_minutes": 0, "below": 1})
    check(s == 404, "a group admin of 別部 cannot set it (404: not in scope)", (s, j))
    s, j = harness.Api(anpid.admin_url, tok["k5"]).get("/api/v1/broadcasts/%d/escalations" % bid)
    check(s == 404, "…nor read it (404)", (s, j))
    s, j = api.get("/api/v1/broadcasts/999999/escalations")
    check(s == 404, "an unknown broadcast: 404", (s, j))
    s, j = harness.Api(anpid.admin_url, tok["k1"]).post("/api/v1/broadcasts/%d/escalation" % bid,
                                                        body={"after_minutes": 1, "below": 0.5})
    check(s == 200 and j.get("after_minutes") == 1 and j.get("below") == 0.5,
          "a group admin of 第一課 sets after 1 minute, below 50%", (s, j))
    s, j = api.get("/api/v1/broadcasts/%d/escalations" % bid)
    check(s == 200 and j["settings"]["source"] == "broadcast" and j["settings"]["set_by"] == "kanri-k1",
          "…and the broadcast's own setting is shown", (s, j))

    # not due yet: two daemon passes must not escalate
    time.sleep(4.5)
    check(pg.psql("SELECT count(*) FROM escalations") == "0",
          "within the minute nothing escalates", pg.psql("SELECT * FROM escalations"))

    pg.psql("UPDATE broadcasts SET created_at = created_at - interval '2 minutes' WHERE id = %d" % bid)

    def escalated():
        s, j = api.get("/api/v1/broadcasts/%d/escalations" % bid)
        return j.get("escalations") if s == 200 else None
    rows = harness.wait_for(escalated, 20, interval=0.5, what="the daemon's escalation pass")
    check(len(rows) == 1 and rows[0]["group_path"] == "本部/第一課" and rows[0]["recipients"] == 4
          and rows[0]["answered"] == 1 and float(rows[0]["answer_rate"]) == 0.25 and rows[0]["drill"] is False,
          "past the minute the daemon escalates 第一課 (1 of 4) only; 第二課 and 本部 (5 of 8) are above",
          rows)
    r = rows[0] if rows else {}
    check(sorted(x["login"] for x in r.get("notified", [])) == ["kanri-k1", "kanri-k2", "kanri-k3"],
          "…the record names the admins told: 第一課's and 本部's, not the disabled one", r)
    check([x["login"] for x in r.get("unreachable", [])] == ["kanri-nolink"],
          "…and lists the admin account without a linked person as unreachable", r)
    settle(anpid, sink)
    mails = escalation_mails(sink)
    got = sorted(rc for rc, _s, _t in mails)
    want = sorted([ADDR["K1"], ADDR["K2"], ADDR["K3"]])
    check(got == want, "the notice went to K1, K2 (once, though admin of both) and K3 only", (got, want))
    text = mails[0][2] if mails else ""
    check(all(x in text for x in ("本部/第一課", "25%", "50%", "対象者: 4 名", "回答済み: 1 名", "未回答: 3 名",
                                  "試験E 安否確認", "1分")),
          "the notice names the group path, the rate, the counts and the broadcast's subject", text)
    check(mails and "本部/第一課" in mails[0][1] and "【訓練】" not in mails[0][1],
          "…its subject names the group; a real check's notice is not marked as a drill",
          mails[0][1] if mails else None)
    n = pg.psql("SELECT count(*) FROM audit_log WHERE action = 'broadcast.escalation'"
                " AND object = 'broadcast:%d'" % bid)
    check(n == "1", "the escalation is in the audit log", n)

    # scope of the records
    s, j = harness.Api(anpid.admin_url, tok["k4"]).get("/api/v1/broadcasts/%d/escalations" % bid)
    check(s == 200 and j.get("escalations") == [],
          "a group admin of 第二課 sees the broadcast but not 第一課's escalation", (s, j))
    s, j = harness.Api(anpid.admin_url, tok["k3"]).get("/api/v1/broadcasts/%d/escalations" % bid)
    check(s == 200 and len(j.get("escalations", [])) == 1, "the admin of 本部 sees it", (s, j))

    # --- idempotent: another pass, by hand and by the daemon, sends nothing ---------
    again = pg.psql("SELECT anpi_escalation_tick(60, 0.5)")
    check(again == "0", "running the tick again escalates nothing more", again)
    pg.psql("UPDATE recipients SET answered_at = NULL WHERE broadcast_id = %d AND person_id = 'E1'" % bid)
    time.sleep(4.5)
    settle(anpid, sink)
    check(len(escalation_mails(sink)) == 3 and pg.psql("SELECT count(*) FROM escalations") == "1",
          "…nor does the daemon's next pass, even as the rate drops further",
          (escalation_mails(sink), pg.psql("SELECT * FROM escalations")))
    bad = pg.psql("SELECT count(*) FROM escalations e JOIN broadcasts b ON b.id = e.broadcast_id"
                  " WHERE b.kind <> 'safety'")
    check(bad == "0", "notices (the escalation mail itself, unanswered by design) never escalate", bad)

    # --- a notice cannot be given settings -----------------------------------------------
    notice = pg.psql("SELECT notice_id FROM escalations LIMIT 1")
    s, j = api.post("/api/v1/broadcasts/%s/escalation" % notice, body={"after_minutes": 1, "below": 0.5})
    check(s == 409 and "not a safety check" in j.get("error", ""), "settings on a notice: 409", (s, j))

    # --- a drill on the configured default (30 minutes, 50%) --------------------------------
    s, j = api.post("/api/v1/broadcasts", body={
        "subject": "試験F 訓練", "body": "回答してください。", "questions": QUESTIONS, "drill": True,
        "audience": {"groups": [int(gid["別部"])], "subgroups": True}, "by": "試験 管理者"})
    did = j.get("id")
    check(s == 201 and did, "a drill to 別部", (s, j))
    settle(anpid, sink)
    pg.psql("UPDATE broadcasts SET created_at = created_at - interval '31 minutes' WHERE id = %d" % did)
    rows = harness.wait_for(lambda: api.get("/api/v1/broadcasts/%d/escalations" % did)[1].get("escalations"),
                            20, interval=0.5, what="the drill's escalation")
    check(len(rows) == 1 and rows[0]["group_path"] == "別部" and rows[0]["drill"] is True
          and float(rows[0]["below"]) == 0.5,
          "the drill escalates on the configured default, recorded as a drill", rows)
    settle(anpid, sink)
    dm = [m for m in escalation_mails(sink) if "別部" in m[1]]
    check([m[0] for m in dm] == [ADDR["K5"]] and "【訓練】" in dm[0][1],
          "…its notice goes to 別部's admin and is marked 【訓練】", dm)

    rc = anpid.stop()
    check(rc == 0, "anpid stops cleanly", "exit %s\n%s" % (rc, harness._tail(anpid.logfile)))


def run(tmp):
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        allowlist(tmp, pg)
        escalation(tmp, pg, sink)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-esc-"))
