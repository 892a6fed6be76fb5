"""The audit log is append-only and hash-chained (engine/schema/0008_audit_chain.sql).

A private PostgreSQL cluster, smtp-sink and anpid as built: a real JMA
document from ../shared/corpus (replayed) and an approval write audit entries;
then the chain is checked by the server (GET /api/v1/audit/verify, `anpictl
audit verify`) and offline from an export (`anpictl audit export`, `anpictl
audit verify --file`), and independently here with hashlib.  UPDATE, DELETE
and TRUNCATE are refused; a superuser who disables the trigger and changes a
row's detail, or deletes a row, is caught at that entry.  Prints TAP."""

import hashlib
import json
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SHARED = os.environ.get("ANPI_SHARED") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")
SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
OFFICIAL = os.path.join(SHARED, "corpus", "jma", "official-samples")
GENESIS = "0" * 64

# Synthetic staff: 22 静岡 (the 2009 駿河湾 quake reaches it), 13 東京.
PEOPLE_CSV = """id,name,kana,emails,regions,groups
D1,試験 太郎,しけん たろう,duty1@example.jp,13,duty-officers
P22,試験 静岡,,shizuoka@example.jp,22,本省/総務課
"""

tap = harness.Tap(summary=True)
check = tap.check


def oracle(lines):
    """Recompute the chain of exported JSON lines here (hashlib), independent
    of both the database and anpictl.  Returns (ok, first_bad_id)."""
    prev, prev_id = GENESIS, None
    for raw in lines:
        e = json.loads(raw)
        if e["prev_hash"] != prev:
            return False, e["id"]
        material = "|".join([e["prev_hash"], str(e["id"]), e["at"], e["actor"], e["action"],
                             e["object"], e["detail_text"]])
        if hashlib.sha256(material.encode("utf-8")).hexdigest() != e["hash"]:
            return False, e["id"]
        if json.loads(e["detail_text"]) != e["detail"]:
            return False, e["id"]
        prev, prev_id = e["hash"], e["id"]
    return True, prev_id


def refused(pg, sql):
    """(refused?, message) for a statement that must fail."""
    try:
        pg.psql(sql)
        return False, "accepted: " + sql
    except harness.HarnessError as e:
        return "append-only" in str(e), str(e)[-300:]


def as_superuser_without_trigger(pg, sql):
    pg.psql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; %s; "
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only" % sql)


def run(tmp):
    doc = os.path.join(OFFICIAL, "32-35_07_01_100915_VXSE51.xml")
    check(os.path.exists(doc), "corpus: a 駿河湾 report is readable", doc)
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        csv_path = os.path.join(tmp, "people.csv")
        with open(csv_path, "w", encoding="utf-8") as f:
            f.write(PEOPLE_CSV)
        cfg = harness.base_config(pg, sink, directory={"import": csv_path})
        cfg["log"] = {"level": "info"}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        api = anpid.api
        token = cfg["api"]["token"]
        ctl = [os.path.join(BUILD, "anpictl"), "--url", anpid.admin_url, "--token", token]

        def anpictl(*args):
            p = subprocess.run(ctl + list(args), capture_output=True, timeout=60)
            return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

        def export_file(name):
            path = os.path.join(tmp, name)
            rc, out, err = anpictl("audit", "export")
            with open(path, "w", encoding="utf-8") as f:
                f.write(out)
            return rc, path, [ln for ln in out.splitlines() if ln]

        # --- entries from real work: a replayed document and an approval
        with open(doc, "rb") as f:
            s, j = api.post("/api/v1/feeds/jma/documents?replay=1", body=f.read(),
                            content_type="application/xml")
        check(s == 202, "a replayed JMA document is stored (202)", (s, j))
        s, j = api.get("/api/v1/incidents")
        pending = [i for i in j.get("incidents", []) if i["status"] == "pending_approval"]
        check(s == 200 and len(pending) == 1, "it opened one incident waiting for approval", j)
        iid = pending[0]["id"]
        s, j = api.post("/api/v1/incidents/%d/approve" % iid,
                        body={"comment": "試験 承認", "by": "試験 太郎"})
        check(s == 200, "the incident is approved through the API", (s, j))
        actions = pg.psql("SELECT string_agg(DISTINCT action, ',') FROM audit_log").split(",")
        check("feed.replay" in actions and any(a.startswith("approval.") for a in actions),
              "the replay and the approval are in the audit log", actions)

        # concurrent writers: the chain must not fork
        errors = []

        def writer(n):
            try:
                for k in range(15):
                    pg.psql("BEGIN; SELECT anpi_audit('試験 %d', 'test.concurrent', 'w:%d', "
                            "'{\"k\": %d}'); SELECT pg_sleep(0.002); COMMIT" % (n, n, k))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, "90 entries from 6 concurrent sessions are written", errors[:2])

        # --- intact
        total = int(pg.psql("SELECT count(*) FROM audit_log"))
        s, v = api.get("/api/v1/audit/verify")
        check(s == 200 and v.get("ok") is True and v.get("first_bad_id") is None
              and v.get("entries") >= total >= 92,
              "GET /api/v1/audit/verify: intact (200) over every entry", (s, v, total))
        s, _ = harness.Api(anpid.admin_url, "wrong-token-0123456789").get("/api/v1/audit/verify")
        s2, _ = harness.Api(anpid.admin_url, "wrong-token-0123456789").get("/api/v1/audit/export")
        check(s == 401 and s2 == 401, "verify and export need the bearer token", (s, s2))
        rc, out, err = anpictl("audit", "verify")
        check(rc == 0 and json.loads(out).get("ok") is True, "anpictl audit verify: intact, exit 0",
              (rc, out, err))

        rc, good_path, lines = export_file("good.jsonl")
        ids = [json.loads(x)["id"] for x in lines]
        check(rc == 0 and len(lines) >= total and ids == sorted(ids) and ids[0] == 1,
              "anpictl audit export writes every entry in id order", (rc, len(lines), total, ids[:5]))
        check(oracle(lines)[0], "the export recomputes here (hashlib) to an intact chain",
              oracle(lines))
        rc, out, err = anpictl("audit", "verify", "--file", good_path)
        check(rc == 0 and json.loads(out)["entries"] == len(lines),
              "anpictl audit verify --file: intact offline", (rc, out, err))
        s, page = api.get("/api/v1/audit/export?from=%d&limit=3" % ids[1])
        got = [json.loads(x)["id"] for x in page.splitlines()] if isinstance(page, str) else page
        check(s == 200 and got == ids[1:4], "export pages: from=ID&limit=N", (s, got, ids[1:4]))
        s, j = api.get("/api/v1/audit/export?from=0")
        s2, j2 = api.get("/api/v1/audit/export?limit=100000")
        check(s == 400 and s2 == 400, "a bad from or limit is refused (400)", (s, j, s2, j2))
        exports = pg.psql("SELECT count(*) FROM audit_log WHERE action = 'audit.export'")
        check(int(exports) >= 2, "exports are themselves audited", exports)

        # a file edited offline is caught at the edited entry
        victim = ids[len(ids) // 2]
        edited = [json.dumps(dict(json.loads(x), actor="試験 改竄"), ensure_ascii=False)
                  if json.loads(x)["id"] == victim else x for x in lines]
        bad_path = os.path.join(tmp, "edited.jsonl")
        with open(bad_path, "w", encoding="utf-8") as f:
            f.write("\n".join(edited) + "\n")
        rc, out, err = anpictl("audit", "verify", "--file", bad_path)
        check(rc == 1 and json.loads(err).get("first_bad_id") == victim,
              "anpictl audit verify --file: an edited actor in the file is caught at its entry",
              (rc, out, err, victim))
        rc, out, err = anpictl("audit", "verify", "--file", bad_path + ".missing")
        check(rc == 2 and "cannot open" in err, "a missing file is reported", (rc, err))

        # --- append-only
        for sql in ("UPDATE audit_log SET detail = '{}' WHERE id = %d" % victim,
                    "DELETE FROM audit_log WHERE id = %d" % victim,
                    "TRUNCATE audit_log"):
            ok, msg = refused(pg, sql)
            check(ok, "refused: " + sql.split(" WHERE")[0], msg)
        check(int(pg.psql("SELECT count(*) FROM audit_log WHERE id <= %d" % ids[-1])) == len(ids),
              "…and nothing changed", "")

        # --- tampering as superuser with the trigger disabled
        original = pg.psql("SELECT detail::text FROM audit_log WHERE id = %d" % victim)
        as_superuser_without_trigger(
            pg, "UPDATE audit_log SET detail = detail || '{\"tampered\": true}' WHERE id = %d" % victim)
        s, v = api.get("/api/v1/audit/verify")
        check(s == 409 and v.get("ok") is False and v.get("first_bad_id") == victim,
              "a changed detail: verify answers 409 with that entry's id", (s, v, victim))
        rc, out, err = anpictl("audit", "verify")
        check(rc == 1 and json.loads(err).get("first_bad_id") == victim,
              "anpictl audit verify reports it (exit 1)", (rc, out, err))
        rc, path, lines2 = export_file("tampered.jsonl")
        ok_off, bad_off = oracle(lines2)
        rc2, out, err = anpictl("audit", "verify", "--file", path)
        check(rc == 0 and not ok_off and bad_off == victim and rc2 == 1
              and json.loads(err).get("first_bad_id") == victim,
              "export + offline verify find the same entry (anpictl and hashlib)", (rc, bad_off, rc2, err))

        # putting the exact old value back makes the entry match its hash again
        as_superuser_without_trigger(
            pg, "UPDATE audit_log SET detail = $j$%s$j$::jsonb WHERE id = %d" % (original, victim))
        s, v = api.get("/api/v1/audit/verify")
        check(s == 200 and v.get("ok") is True, "restored: intact again", (s, v))

        # a deleted row: the next entry no longer follows its predecessor
        gone = ids[3]
        nxt = int(pg.psql("SELECT min(id) FROM audit_log WHERE id > %d" % gone))
        as_superuser_without_trigger(pg, "DELETE FROM audit_log WHERE id = %d" % gone)
        s, v = api.get("/api/v1/audit/verify")
        check(s == 409 and v.get("first_bad_id") == nxt and "missing" in v.get("reason", ""),
              "a deleted entry: verify reports the gap at the entry after it", (s, v, gone, nxt))
        rc, path, lines3 = export_file("gap.jsonl")
        ok_off, bad_off = oracle(lines3)
        rc2, out, err = anpictl("audit", "verify", "--offline", path)
        check(not ok_off and bad_off == nxt and rc2 == 1 and json.loads(err).get("first_bad_id") == nxt
              and "missing" in json.loads(err).get("reason", ""),
              "export + offline verify report the same gap", (bad_off, rc2, err))

        # the last entry deleted: caught through the chain head
        last = int(pg.psql("SELECT max(id) FROM audit_log"))
        as_superuser_without_trigger(pg, "DELETE FROM audit_log WHERE id >= %d" % (gone + 1))
        s, v = api.get("/api/v1/audit/verify")
        check(s == 409 and "missing" in v.get("reason", ""),
              "entries deleted at the end are caught through the chain head", (s, v, last))

        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-audit-", "the audit test", mode=0o755))
