"""Directory import: Shift_JIS, dry run, update mode with a diff, daily sync.

A private PostgreSQL cluster, smtp-sink and anpid as built.  Synthetic staff
only (試験 names, example.jp).  Checks:
  - a Shift_JIS (cp932) CSV imports, with the encoding reported;
  - a dry run reports the would-be diff and changes nothing;
  - update mode adds one, changes one (only the fields that differ), removes
    one, leaves the unchanged untouched; a removed person still named in the
    history is kept as a tombstone and not reported again;
  - garbled bytes, duplicate ids, a bad address and an empty update are
    refused with line numbers, nothing applied;
  - directory.sync: with `at` the current minute (JST) the scheduled sync runs
    from a file and mails the report to the report group; POST
    /api/v1/directory/sync runs it now (also from an http URL), and a garbled
    source mails a failure report and changes nothing;
  - the attributes column and JIS X 0402 city codes in regions (schema 0016):
    stored, reported as changes of "attributes"/"cities" (dry run too), kept
    when the column is absent, garbled cells refused with their lines and
    nothing applied; an export's masked addresses and addresses_status
    import as no change, and the CSV export imports again unchanged.
Prints TAP."""

import http.server
import os
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
IMPORT = "/api/v1/people/import"

HEADER = "id,name,kana,emails,regions,groups\n"
BASE = HEADER + (
    "A1,試験 管理,しけん かんり,admin1@example.jp,13,admins\n"
    "P1,試験 太郎,しけん たろう,taro@example.jp,13,本省/大臣官房\n"
    "P2,試験 花子,しけん はなこ,hanako@example.jp,27,本省/大臣官房/秘書課\n"
    "P3,試験 次郎,しけん じろう,jiro@example.jp,01,支社\n")

tap = harness.Tap(summary=True)
check = tap.check


def post_csv(api, data, query=""):
    body = data if isinstance(data, bytes) else data.encode("utf-8")
    return api.post(IMPORT + query, body=body, content_type="text/csv")


def person(pg, pid):
    """name|kana|addresses|regions|groups|removed of one person, or ''."""
    return pg.psql(
        "SELECT p.name || '|' || p.kana || '|' ||"
        " coalesce((SELECT string_agg(address, ';' ORDER BY position) FROM person_addresses"
        "           WHERE person_id = p.id), '') || '|' ||"
        " coalesce((SELECT string_agg(pref::text, ';' ORDER BY pref) FROM person_regions"
        "           WHERE person_id = p.id), '') || '|' ||"
        " coalesce((SELECT string_agg(g.path, ';' ORDER BY g.path) FROM group_members m"
        "           JOIN groups g ON g.id = m.group_id WHERE m.person_id = p.id), '') || '|' ||"
        " (p.removed_at IS NOT NULL)::text"
        " FROM people p WHERE p.id = '%s'" % pid)


def snapshot(pg):
    return pg.psql("SELECT string_agg(id || ':' || updated_at::text || ':' || name, ',' ORDER BY id)"
                   " FROM people") + "/" + pg.psql(
        "SELECT count(*) FROM person_addresses") + "/" + pg.psql("SELECT count(*) FROM audit_log")


def jst_hhmm():
    t = time.gmtime(time.time() + 9 * 3600)
    return "%02d:%02d" % (t.tm_hour, t.tm_min)


def reports_to(sink, addr):
    return [m for r, m in sink.messages() if addr in r and "名簿同期" in str(m["subject"])]


def body_text(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


HEADER_A = "id,name,kana,emails,regions,groups,attributes\n"


def extras(pg, pid):
    """attributes (jsonb text)|cities|regions of one person."""
    return pg.psql(
        "SELECT p.attributes::text || '|' ||"
        " coalesce((SELECT string_agg(city::text, ';' ORDER BY city) FROM person_cities"
        "           WHERE person_id = p.id), '') || '|' ||"
        " coalesce((SELECT string_agg(pref::text, ';' ORDER BY pref) FROM person_regions"
        "           WHERE person_id = p.id), '')"
        " FROM people p WHERE p.id = '%s'" % pid)


def extras_snapshot(pg):
    return snapshot(pg) + "/" + pg.psql(
        "SELECT coalesce(string_agg(id || '=' || attributes::text, ',' ORDER BY id), '') FROM people") + \
        "/" + pg.psql("SELECT coalesce(string_agg(person_id || ':' || city, ',' ORDER BY person_id, city), '')"
                      " FROM person_cities")


def attributes_and_cities(pg, api):
    """The attributes column, JIS X 0402 city codes in regions, masked
    addresses and addresses_status (an export imported again)."""
    # the directory now: A1, P1 (13;27), P5, P6 from the sync above
    s, j = post_csv(api, HEADER_A + (
        "P7,試験 七郎,しけん しちろう,nana@example.jp;nana.m@example.jp,131016;27,本省,"
        "\"内線=1234; 職種 = 技術\"\n"
        "P1,試験 一郎,しけん いちろう,taro@example.jp,13;27;27100,本省/大臣官房,職種=事務\n"))
    check(s == 200 and j.get("added") == ["P7"]
          and j.get("changed") == [{"id": "P1", "fields": ["cities", "attributes"]}],
          "attributes and city codes import; the report names cities and attributes as changes",
          (s, j))
    check(extras(pg, "P7") == '{"内線": "1234", "職種": "技術"}|13101|13;27'
          and extras(pg, "P1") == '{"職種": "事務"}|27100|13;27',
          "…stored: attributes as a JSON object, cities as 5-digit codes (check digit dropped),"
          " the city's prefecture among the regions", (extras(pg, "P7"), extras(pg, "P1")))

    # update one attribute: dry run first, then for real
    upd = HEADER_A + (
        "P7,試験 七郎,しけん しちろう,nana@example.jp;nana.m@example.jp,131016;27,本省,"
        "内線=5678;職種=技術\n"
        "P1,試験 一郎,しけん いちろう,taro@example.jp,13;27;27100,本省/大臣官房,職種=事務\n")
    before = extras_snapshot(pg)
    s, j = post_csv(api, upd, "?dry_run=1")
    check(s == 200 and j.get("dry_run") is True and j.get("added") == []
          and j.get("changed") == [{"id": "P7", "fields": ["attributes"]}] and j.get("unchanged") == 1,
          "dry run: one changed attribute is reported as a change of attributes", (s, j))
    check(extras_snapshot(pg) == before, "…and the dry run changed nothing", (before, extras_snapshot(pg)))
    s, j = post_csv(api, upd)
    check(s == 200 and j.get("changed") == [{"id": "P7", "fields": ["attributes"]}]
          and extras(pg, "P7") == '{"内線": "5678", "職種": "技術"}|13101|13;27',
          "the update changes the attribute", (s, j, extras(pg, "P7")))

    # the spine's format (no attributes column) leaves attributes alone
    s, j = post_csv(api, HEADER + "P7,試験 七郎,しけん しちろう,nana@example.jp;nana.m@example.jp,"
                    "13101;27,本省\n")
    check(s == 200 and j.get("changed") == [] and j.get("unchanged") == 1
          and extras(pg, "P7").startswith('{"内線": "5678"'),
          "a CSV without the attributes column keeps the stored attributes", (s, j))
    # an empty cell clears them, a city dropped from regions is removed
    s, j = post_csv(api, HEADER_A + "P7,試験 七郎,しけん しちろう,nana@example.jp;nana.m@example.jp,"
                    "27,本省,\n", "?dry_run=1")
    check(s == 200 and j.get("changed") == [{"id": "P7", "fields": ["regions", "cities", "attributes"]}],
          "an empty attributes cell and a dropped city would be changes", (s, j))

    # garbled cells: every row error with its line, nothing applied
    before = extras_snapshot(pg)
    bad = HEADER_A + (
        "P7,試験 七郎,,nana@example.jp,131016,本省,\"内線=1;内線=2\"\n"
        "P8,試験 八郎,,hachi@example.jp,131017,本省,職種\n"
        "P9,試験 九郎,,kyu@example.jp,48101,本省,=x\n")
    s, j = post_csv(api, bad)
    errs = j.get("errors", []) if isinstance(j, dict) else []
    want = ['line 2: attributes: key "内線" appears twice',
            'line 3: regions: "131017" has a wrong check digit (JIS X 0402: 13101 takes 6)',
            'line 3: attributes: "職種" is not key=value',
            'line 4: regions: "48101" is not a municipality code (JIS X 0402): there is no prefecture 48',
            'line 4: attributes: "=x" has no key']
    check(s == 400 and all(w in errs for w in want) and len(errs) == len(want),
          "garbled attributes and city codes are refused, each with its line", (s, j))
    check(extras_snapshot(pg) == before and person(pg, "P8") == "",
          "…and nothing was applied", (before, extras_snapshot(pg)))

    # an export's masked addresses stand for the current ones
    s, j = post_csv(api, "id,name,kana,emails,regions,groups,addresses_status,attributes\n"
                    "P7,試験 七郎,しけん しちろう,****@example.jp;****@example.jp,13101;27,本省,"
                    "unverified;unverified,内線=5678;職種=技術\n")
    check(s == 200 and j.get("changed") == [] and j.get("unchanged") == 1
          and person(pg, "P7").split("|")[2] == "nana@example.jp;nana.m@example.jp",
          "masked addresses and addresses_status (an export) import as no change", (s, j, person(pg, "P7")))
    s, j = post_csv(api, HEADER + "P7,試験 七郎,しけん しちろう,****@example.jp;new7@example.jp,13101;27,本省\n")
    check(s == 200 and j.get("changed") == [{"id": "P7", "fields": ["emails"]}]
          and person(pg, "P7").split("|")[2] == "nana@example.jp;new7@example.jp",
          "a masked address next to a new one: the first is kept, the second replaced",
          (s, j, person(pg, "P7")))
    # masks that differ only in the case of the domain (an export edited by
    # hand) are the first and the second address there, not the first twice
    s, j = post_csv(api, HEADER + "P7,試験 七郎,しけん しちろう,****@Example.jp;****@example.jp,13101;27,本省\n")
    check(s == 200 and j.get("changed") == []
          and person(pg, "P7").split("|")[2] == "nana@example.jp;new7@example.jp",
          "two masks that differ only in the domain's case keep both addresses", (s, j, person(pg, "P7")))
    before = extras_snapshot(pg)
    s, j = post_csv(api, HEADER + "P5,試験 五郎,しけん ごろう,goro@example.jp,13,支社\n"
                    "P10,試験 十郎,,****@example.jp,13,\n")
    check(s == 400 and j.get("errors") == [
              'line 3: emails: "****@example.jp" is masked (as an export writes it) and P10 has no other '
              'current address at example.jp it could stand for; write the address in full'],
          "a masked address with nothing to stand for is refused with its line", (s, j))
    check(extras_snapshot(pg) == before, "…and nothing was applied")

    # the export, imported again as it is: nothing changes
    s, h, body = raw_export(api)
    if check(s == 200, "the CSV export downloads", s):
        s, j = post_csv(api, body, "?dry_run=1")
        check(s == 200 and j.get("changed") == [] and j.get("added") == [],
              "the export imports again as no change (masked addresses, addresses_status, cities,"
              " attributes)", (s, j))


def raw_export(api):
    """(status, headers, bytes) of the CSV export (a file, not JSON)."""
    req = urllib.request.Request(api.base + "/api/v1/people/export?format=csv",
                                 headers={"Authorization": "Bearer " + api.token})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def run(tmp):
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        cfg = harness.base_config(pg, sink)
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api

        # --- the first import (merge, UTF-8)
        s, j = post_csv(api, BASE)
        check(s == 200 and j.get("added") == ["A1", "P1", "P2", "P3"] and j.get("removed") == []
              and j.get("changed") == [] and j.get("unchanged") == 0 and j.get("encoding") == "UTF-8"
              and j.get("rows") == 4 and j.get("created") == 4,
              "a UTF-8 CSV imports and reports four people added", (s, j))

        # --- Shift_JIS
        sj = (HEADER + "P1,試験 一郎,しけん いちろう,taro@example.jp,東京都,本省/大臣官房\r\n").encode("cp932")
        s, j = post_csv(api, sj)
        check(s == 200 and j.get("encoding") == "Shift_JIS"
              and j.get("changed") == [{"id": "P1", "fields": ["name", "kana"]}]
              and j.get("unchanged") == 0 and j.get("added") == [] and j.get("removed") == [],
              "a Shift_JIS (cp932) CSV imports; the report names the changed fields", (s, j))
        check(person(pg, "P1") == "試験 一郎|しけん いちろう|taro@example.jp|13|本省/大臣官房|false",
              "…and the names arrive as the right characters", person(pg, "P1"))
        check(person(pg, "P2").startswith("試験 花子|"), "merge mode leaves the others alone",
              person(pg, "P2"))

        # --- dry run of an update: add P4, change P2's address, remove P3
        upd = HEADER + (
            "A1,試験 管理,しけん かんり,admin1@example.jp,13,admins\n"
            "P1,試験 一郎,しけん いちろう,taro@example.jp,13,本省/大臣官房\n"
            "P2,試験 花子,しけん はなこ,hanako.new@example.jp,27,本省/大臣官房/秘書課\n"
            "P4,試験 四郎,しけん しろう,shiro@example.jp;shiro.m@example.jp,13;14,本省\n")
        before = snapshot(pg)
        s, j = post_csv(api, upd, "?mode=update&dry_run=1")
        want = {"added": ["P4"], "changed": [{"id": "P2", "fields": ["emails"]}], "removed": ["P3"],
                "unchanged": 2, "errors": [], "dry_run": True, "mode": "update"}
        check(s == 200 and all(j.get(k) == v for k, v in want.items()),
              "dry run in update mode: the would-be diff (add one, change one, remove one)", (s, j))
        check(snapshot(pg) == before and person(pg, "P3") != "" and person(pg, "P4") == "",
              "the dry run changed nothing (people, addresses, audit log)", (before, snapshot(pg)))

        # --- the update itself
        p1_stamp = pg.psql("SELECT updated_at FROM people WHERE id = 'P1'")
        audit0 = int(pg.psql("SELECT count(*) FROM audit_log"))
        s, j = post_csv(api, upd, "?mode=update")
        check(s == 200 and all(j.get(k) == v for k, v in dict(want, dry_run=False).items()),
              "update mode applies the same diff", (s, j))
        check(person(pg, "P4") == "試験 四郎|しけん しろう|shiro@example.jp;shiro.m@example.jp|13;14|本省|false"
              and person(pg, "P2").split("|")[2] == "hanako.new@example.jp" and person(pg, "P3") == "",
              "P4 added with both addresses, P2's address replaced, P3 removed",
              (person(pg, "P4"), person(pg, "P2"), person(pg, "P3")))
        check(pg.psql("SELECT updated_at FROM people WHERE id = 'P1'") == p1_stamp,
              "an unchanged person is not touched (updated_at kept)")
        acts = pg.psql("SELECT string_agg(action || '/' || actor || '/' || detail::text, E'\\n' ORDER BY id)"
                       " FROM audit_log WHERE id > %d" % audit0)
        check("directory.update/api/" in acts and '"removed": 1' in acts,
              "the update is in the audit log with its counts", acts)

        # --- removing someone named in the history keeps a tombstone
        pg.psql("SELECT anpi_create_broadcast('info', NULL, NULL, 'imp-test', '', false, 's', 'b', '{}',"
                " '[]', NULL, 0, now() + interval '1 day', NULL, NULL, ARRAY['P4'], NULL, '試験')")
        without_p4 = "\n".join(l for l in upd.splitlines() if not l.startswith("P4")) + "\n"
        s, j = post_csv(api, without_p4, "?mode=update")
        check(s == 200 and j.get("removed") == ["P4"], "a person with history can be removed", (s, j))
        check(person(pg, "P4") == "試験 四郎|しけん しろう||||true",
              "…kept as a tombstone without addresses, regions or groups", person(pg, "P4"))
        s, j = post_csv(api, without_p4, "?mode=update&dry_run=1")
        check(s == 200 and j.get("removed") == [] and j.get("unchanged") == 3 and j.get("added") == [],
              "…and not reported as removed again", (s, j))
        s, j = post_csv(api, upd, "?dry_run=1")
        check(s == 200 and j.get("added") == ["P4"], "re-importing the id would add them back", (s, j))

        # --- refused input: nothing partially applied
        before = snapshot(pg)
        garbled = HEADER.encode() + "P1,試験 一郎,,taro@example.jp,,\n".encode("cp932") + \
            b"P9,\xff\xfe\xfd,,p9@example.jp,,\n"
        s, j = post_csv(api, garbled, "?mode=update")
        check(s == 400 and any(e.startswith("line 3: garbled text") for e in j.get("errors", [])),
              "garbled bytes are refused with their line number", (s, j))
        dup = upd + "P2,試験 重複,,dup@example.jp,,\n"
        s, j = post_csv(api, dup, "?mode=update&dry_run=1")
        check(s == 400 and "line 6: id: duplicate of line 4" in j.get("errors", []),
              "a duplicate id is refused with both lines (dry run too)", (s, j))
        bad = upd + "P8,試験 八郎,,not-an-address,,\n"
        s, j = post_csv(api, bad, "?mode=update")
        check(s == 400 and 'line 6: emails: "not-an-address" is not a mail address' in j.get("errors", []),
              "an address that is not an address is refused with its line", (s, j))
        s, j = post_csv(api, HEADER, "?mode=update")
        check(s == 400 and any("would remove all" in e for e in j.get("errors", [])),
              "an empty CSV in update mode is refused (it would empty the directory)", (s, j))
        s, j = post_csv(api, upd, "?mode=replace")
        check(s == 400 and "mode" in str(j), "an unknown mode is refused", (s, j))
        s, j = post_csv(api, upd, "?dry_run=maybe")
        check(s == 400 and "dry_run" in str(j), "a bad dry_run value is refused", (s, j))
        check(snapshot(pg) == before, "none of the refused imports changed anything")

        # --- the scheduled sync: `at` is the current minute in Japan time
        sync_csv = os.path.join(tmp, "sync.csv")
        with open(sync_csv, "wb") as f:
            f.write((HEADER + "A1,試験 管理,しけん かんり,admin1@example.jp,13,admins\r\n"
                     "P1,試験 一郎,しけん いちろう,taro@example.jp,13;27,本省/大臣官房\r\n"
                     "P5,試験 五郎,しけん ごろう,goro@example.jp,13,支社\r\n").encode("cp932"))
        # a system admin linked to P1 gets the report too (the issue: "mailed to system admins")
        s, j = api.post("/api/v1/accounts", body={"login": "sysadmin-p1", "password": "Shiken-Kanri-2026!",
                                                  "role": "system-admin", "groups": [], "person_id": "P1"})
        check(s == 201, "a system-admin account linked to P1", (s, j))
        anpid.config["directory"] = {"sync": {"source": sync_csv, "at": jst_hhmm(),
                                              "report_group": "admins"}}
        anpid.restart()
        ok = harness.wait_for(lambda: reports_to(sink, "admin1@example.jp"), timeout=30,
                              what="the sync report mail")
        mails = reports_to(sink, "admin1@example.jp")
        check(ok and len(mails) == 1 and "追加 1 / 変更 1 / 削除 1" in str(mails[0]["subject"]),
              "the scheduled sync ran and mailed the report to the report group",
              [str(m["subject"]) for m in mails])
        text = body_text(mails[0]) if mails else ""
        check("P5" in text and "P1: regions" in text and "P2" in text,
              "the report lists the added, the changed fields and the removed", text)
        check(person(pg, "P5").startswith("試験 五郎|") and person(pg, "P2") == ""
              and person(pg, "P1").split("|")[3] == "13;27",
              "the sync applied the file in update mode", (person(pg, "P5"), person(pg, "P2")))
        check(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'directory.sync' AND actor = 'schedule'")
              == "1", "the scheduled sync is audited")
        check(len(reports_to(sink, "taro@example.jp")) == 1,
              "…and to the person linked to the system-admin account")
        others = [r for r, m in sink.messages() if "名簿同期" in str(m["subject"])
                  and any(a not in ("admin1@example.jp", "taro@example.jp") for a in r)]
        check(not others, "nobody else got the report", others)

        # a restart the same day does not run it again
        anpid.restart()
        time.sleep(3)
        check(len(reports_to(sink, "admin1@example.jp")) == 1,
              "a restart on the same day does not sync twice")

        # --- POST /api/v1/directory/sync from an http URL
        served = {"body": open(sync_csv, "rb").read()}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(served["body"])))
                self.end_headers()
                self.wfile.write(served["body"])

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d/people.csv?token=secret-token-xyz" % srv.server_address[1]
            anpid.config["directory"]["sync"]["source"] = url
            anpid.config["directory"]["sync"]["at"] = "23:59"
            anpid.restart()
            served["body"] = served["body"] + \
                "P6,試験 六郎,しけん ろくろう,roku@example.jp,13,\r\n".encode("cp932")
            s, j = api.post("/api/v1/directory/sync", body=b"")
            check(s == 200 and j.get("added") == ["P6"] and j.get("removed") == []
                  and j.get("unchanged") == 3,
                  "POST /api/v1/directory/sync runs it now from the URL", (s, j))
            harness.wait_for(lambda: len(reports_to(sink, "admin1@example.jp")) == 2, timeout=20,
                             what="the second report")
            mails = reports_to(sink, "admin1@example.jp")
            check(len(mails) == 2 and "追加 1 / 変更 0 / 削除 0" in str(mails[-1]["subject"])
                  and "secret-token-xyz" not in body_text(mails[-1]),
                  "…its report is mailed (the URL's query, which may hold a token, is not shown)",
                  [str(m["subject"]) for m in mails])

            served["body"] = HEADER.encode() + b"P1,\x82\xa0\x81\x20,,taro@example.jp,,\r\n"
            before = snapshot(pg)
            s, j = api.post("/api/v1/directory/sync", body=b"")
            check(s == 400 and any(e.startswith("line 2: garbled text") for e in j.get("errors", [])),
                  "a garbled source is refused with the line", (s, j))
            harness.wait_for(lambda: len(reports_to(sink, "admin1@example.jp")) == 3, timeout=20,
                             what="the failure report")
            mails = reports_to(sink, "admin1@example.jp")
            check("失敗" in str(mails[-1]["subject"]) and "line 2" in body_text(mails[-1]),
                  "…the admins are told it failed and why", [str(m["subject"]) for m in mails])
            check(snapshot(pg).split("/")[:2] == before.split("/")[:2], "…and nothing was changed")
            check(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'directory.sync_failed'") == "1",
                  "…and the failure is audited")
        finally:
            srv.shutdown()
            srv.server_close()

        s, j = harness.Api(anpid.admin_url, "wrong-token-0123456789").post("/api/v1/directory/sync",
                                                                           body=b"")
        check(s == 401, "the sync endpoint needs the token", s)
        del anpid.config["directory"]
        anpid.restart()
        s, j = api.post("/api/v1/directory/sync", body=b"")
        check(s == 404 and "not configured" in str(j), "without directory.sync the endpoint says so",
              (s, j))
        attributes_and_cities(pg, api)
        group_cycle(pg)
        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


def group_cycle(pg):
    """Paths cannot describe a cycle, but the tree is guarded in the database
    too: a parent inside the group itself is refused, naming both."""
    root, child = pg.psql("SELECT r.id || ' ' || c.id FROM groups r JOIN groups c ON c.parent_id = r.id"
                          " WHERE r.parent_id IS NULL ORDER BY r.id, c.id LIMIT 1").split()
    before = pg.psql("SELECT string_agg(id || ':' || coalesce(parent_id::text, '-'), ',' ORDER BY id) FROM groups")
    err = ""
    try:
        pg.psql("UPDATE groups SET parent_id = %s WHERE id = %s" % (child, root))
    except Exception as exc:  # psql exits non-zero with the server's message
        err = str(exc)
    check("group cycle" in err and "inside it" in err, "a group cycle is refused with a clear message", err)
    try:
        pg.psql("UPDATE groups SET parent_id = %s WHERE id = %s" % (root, root))
    except Exception as exc:
        err = str(exc)
    check("group cycle" in err, "a group cannot be its own parent", err)
    after = pg.psql("SELECT string_agg(id || ':' || coalesce(parent_id::text, '-'), ',' ORDER BY id) FROM groups")
    check(before == after, "…and the tree is unchanged")


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-import-", "the import test", mode=0o755))
