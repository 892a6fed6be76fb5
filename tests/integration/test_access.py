"""Warnings on unusual access to personal data (admin-api/endpoints/access.c,
engine/schema/0021_access_warnings.sql).

A private PostgreSQL cluster and anpid as built, with audit.bulk_read_rows: 10
and synthetic staff.  First with office hours around the present Japan time:
reads of up to 10 people rows in 10 minutes give no warning, the read that
takes an account over 10 gives one 'access.bulk_read' entry (login, what,
rows, window total, peer, severity) and further reads no second one; another
account counts on its own.  Then anpid restarts with office hours that
exclude the present Japan time: a read gives one 'access.unusual_hour' entry
and a second read within the hour none; a read of no rows notes nothing.
The warnings are logged without personal data, and the audit chain still
verifies.  Prints TAP."""

import datetime
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")

# Synthetic staff: 12 people in 総務課, 3 in 支局.
PEOPLE_CSV = "id,name,kana,emails,regions,groups\n" + "".join(
    "A%02d,試験 太郎%d,しけん たろう,taro%d@example.jp,13,本省/総務課\n" % (i, i, i) for i in range(1, 13)) + "".join(
    "B%02d,試験 花子%d,,hanako%d@example.jp,27,支局\n" % (i, i, i) for i in range(1, 4))

JST = datetime.timezone(datetime.timedelta(hours=9))

tap = harness.Tap(summary=True)
check = tap.check


def hhmm(minutes):
    minutes %= 1440
    return "%02d:%02d" % (minutes // 60, minutes % 60)


def office_hours(include_now):
    """Office hours two hours either side of now (Japan time), or a
    two-hour range starting three hours from now (wrapping midnight as the
    clock requires), so a test run at any hour is on the intended side."""
    now = datetime.datetime.now(JST)
    m = now.hour * 60 + now.minute
    if include_now:
        return {"start": hhmm(m - 120), "end": hhmm(m + 120)}
    return {"start": hhmm(m + 180), "end": hhmm(m + 300)}


token_for = harness.account_token


def entries(pg, action):
    out = pg.psql("SELECT coalesce(json_agg(json_build_object('actor', actor, 'object', object, 'detail', detail)"
                  " ORDER BY id), '[]') FROM audit_log WHERE action = '%s'" % action)
    return json.loads(out)


def window_rows(pg, account):
    return int(pg.psql("SELECT coalesce(sum(rows), 0) FROM access_reads WHERE account_id = %d" % account))


def settled(pg, account, rows):
    """The notes are fire-and-forget: wait until the account's reads are
    counted before looking at the audit log."""
    harness.wait_for(lambda: window_rows(pg, account) >= rows, 10,
                     what="%d rows counted for account %d" % (rows, account))


def run(tmp):
    with harness.PgCluster(tmp) as pg:
        cfg = harness.base_config(pg, outbox=os.path.join(tmp, "outbox"))
        cfg["log"] = {"level": "info"}
        cfg["audit"] = {"bulk_read_rows": 10, "office_hours": office_hours(True)}
        os.makedirs(cfg["outbox"]["dir"], exist_ok=True)
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api

        s, j = api.post("/api/v1/people/import", body=PEOPLE_CSV, content_type="text/csv")
        check(s == 200 and j.get("rows") == 15, "the synthetic CSV is imported (15 rows)", (s, j))
        s, j = api.get("/api/v1/groups")
        soumu = [c for g in j.get("groups", []) for c in g.get("children", []) if c["path"] == "本省/総務課"]
        check(s == 200 and len(soumu) == 1, "the tree has 本省/総務課", (s, j))
        if not soumu:
            return

        # --- bulk reads: the bootstrap token (account 0)
        s, j = api.get("/api/v1/people?limit=5")
        s2, j2 = api.get("/api/v1/people?limit=5&offset=5")
        check(s == s2 == 200 and len(j["people"]) == len(j2["people"]) == 5, "two pages of 5 people", (s, s2))
        settled(pg, 0, 10)
        check(entries(pg, "access.bulk_read") == [], "10 rows in 10 minutes: no warning (the limit is 10)",
              entries(pg, "access.bulk_read"))
        s, j = api.get("/api/v1/people/A11")
        check(s == 200, "one more person read", (s, j))
        harness.wait_for(lambda: entries(pg, "access.bulk_read"), 10, what="a bulk_read entry")
        got = entries(pg, "access.bulk_read")
        d = got[0]["detail"] if got else {}
        check(len(got) == 1 and got[0]["actor"] == "api" and got[0]["object"] == "account:0"
              and d.get("severity") == "warning" and d.get("login") == "api" and d.get("what") == "people.get"
              and d.get("rows") == 1 and d.get("window_rows") == 11 and d.get("threshold") == 10
              and d.get("peer") == "127.0.0.1",
              "the 11th row gives one access.bulk_read warning: login, what, rows, window total, peer", got)
        s, _ = api.get("/api/v1/people/export?format=csv")
        s2, j2 = api.get("/api/v1/directory/status")
        s3, j3 = api.get("/api/v1/people?group=%d" % soumu[0]["id"])
        check(s == s2 == s3 == 200, "an export, the status and a group list are read", (s, s2, s3))
        settled(pg, 0, 11 + 15 + 12)
        check(len(entries(pg, "access.bulk_read")) == 1, "…and give no second warning in the same window",
              entries(pg, "access.bulk_read"))
        check(entries(pg, "access.unusual_hour") == [], "within office hours: no unusual_hour entry",
              entries(pg, "access.unusual_hour"))

        # another account counts on its own
        viewer, vtoken = token_for(pg, "viewer-one", "viewer")
        va = harness.Api(anpid.admin_url, vtoken)
        s, j = va.get("/api/v1/people?limit=8")
        check(s == 200 and len(j.get("people", [])) == 8, "a viewer reads 8 people", (s, j))
        settled(pg, viewer, 8)
        check(len(entries(pg, "access.bulk_read")) == 1, "its 8 rows are not added to another account's",
              entries(pg, "access.bulk_read"))
        s, j = va.get("/api/v1/people/B01")
        s2, j2 = va.get("/api/v1/people/B02")
        s3, j3 = va.get("/api/v1/people/B03")
        settled(pg, viewer, 11)
        harness.wait_for(lambda: len(entries(pg, "access.bulk_read")) >= 2, 10, what="a second bulk_read entry")
        got = entries(pg, "access.bulk_read")
        check(len(got) == 2 and got[1]["actor"] == "viewer-one" and got[1]["detail"]["window_rows"] == 11
              and got[1]["object"] == "account:%d" % viewer,
              "the viewer's 11th row gives its own warning, under its login", got)

        log = anpid.log()
        warn = [ln for ln in log.splitlines() if "access.bulk_read" in ln]
        check(len(warn) == 2 and all('"warn' in ln for ln in warn),
              "each warning is logged at warning level", warn or log[-2000:])
        check(not any(x in "\n".join(warn) for x in ("試験", "@example.jp", "viewer-one")),
              "the log lines hold no personal data (no names, addresses or logins)", warn)

        # --- unusual hours: office hours that exclude the present
        cfg["audit"]["office_hours"] = office_hours(False)
        check(anpid.stop() == 0, "anpid stops cleanly", "")
        anpid.restart()
        hour = int(pg.psql("SELECT count(*) FROM access_reads WHERE account_id = %d" % viewer))
        s, j = va.get("/api/v1/people?group=999999")
        s2, j2 = va.get("/api/v1/people?group=%d&limit=1&offset=100" % soumu[0]["id"])
        check(s == 404 and s2 == 200 and j2.get("people") == [], "a 404 and an empty page read no people",
              (s, s2))
        time.sleep(0.5)
        check(entries(pg, "access.unusual_hour") == [] and
              int(pg.psql("SELECT count(*) FROM access_reads WHERE account_id = %d" % viewer)) == hour,
              "…and are not noted", entries(pg, "access.unusual_hour"))
        s, j = va.get("/api/v1/people/A01")
        check(s == 200, "a person is read outside office hours", (s, j))
        harness.wait_for(lambda: entries(pg, "access.unusual_hour"), 10, what="an unusual_hour entry")
        got = entries(pg, "access.unusual_hour")
        d = got[0]["detail"] if got else {}
        now = datetime.datetime.now(JST)
        check(len(got) == 1 and got[0]["actor"] == "viewer-one" and d.get("severity") == "warning"
              and d.get("what") == "people.get" and d.get("rows") == 1 and d.get("peer") == "127.0.0.1"
              and d.get("office_hours") == "%s-%s" % (cfg["audit"]["office_hours"]["start"],
                                                      cfg["audit"]["office_hours"]["end"])
              and abs((now.hour * 60 + now.minute) - int(d["japan_time"][:2]) * 60 - int(d["japan_time"][3:])) % 1440
              in (0, 1, 1439),
              "one access.unusual_hour warning with the Japan time and the office hours", got)
        before = window_rows(pg, viewer)
        s, j = va.get("/api/v1/people/A02")
        s2, j2 = va.get("/api/v1/people?limit=3")
        check(s == s2 == 200, "two more reads within the hour", (s, s2))
        settled(pg, viewer, before + 4)
        check(len(entries(pg, "access.unusual_hour")) == 1, "…give no second unusual_hour entry",
              entries(pg, "access.unusual_hour"))
        s, j = api.get("/api/v1/people/A03")
        settled(pg, 0, 1)
        harness.wait_for(lambda: len(entries(pg, "access.unusual_hour")) >= 2, 10,
                         what="the bootstrap token's unusual_hour entry")
        got = entries(pg, "access.unusual_hour")
        check(len(got) == 2 and got[1]["actor"] == "api", "another account gets its own once-an-hour warning", got)
        log = anpid.log()
        warn = [ln for ln in log.splitlines() if "access.unusual_hour" in ln]
        check(len(warn) == 2 and not any(x in "\n".join(warn) for x in ("試験", "@example.jp", "viewer-one")),
              "unusual-hour warnings are logged without personal data", warn)

        s, j = api.get("/api/v1/audit/verify")
        check(s == 200 and j.get("ok") is True, "the audit chain still verifies", (s, j))

        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-access-", "the access test", mode=0o755))
