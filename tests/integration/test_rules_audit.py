"""A rule change is an audited event (engine/rules_audit.c, 0027_rule_audit.sql).

anpid started on a copy of a shipped pack records every rule and template
file (rules.added); a restart with one template edited records exactly that
change with the old and new digests (rules.changed); a restart with nothing
changed records nothing; a restart on another pack records the first pack's
files as removed and the new ones as added.  The audit chain still verifies.
Real PostgreSQL 15 and anpid as built.  Prints TAP."""

import hashlib
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
PACKS = os.path.join(SRC, "rules", "packs")

tap = harness.Tap(summary=True)
check = tap.check


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pack_files(root):
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            if n.endswith((".yaml", ".yml", ".txt", ".html")):
                p = os.path.join(dirpath, n)
                out[p] = digest(p)
    return out


def entries(pg, since):
    rows = pg.psql("SELECT action || '|' || object || '|' || coalesce(detail->>'sha256', '') || '|'"
                   " || coalesce(detail->>'previous_sha256', '') FROM audit_log"
                   " WHERE id > %d AND action LIKE 'rules.%%' ORDER BY id" % since)
    return [r.split("|") for r in rows.splitlines() if r]


def last_id(pg):
    return int(pg.psql("SELECT coalesce(max(id), 0) FROM audit_log"))


def run(tmp):
    pack = os.path.join(tmp, "rules", "safety")
    shutil.copytree(os.path.join(PACKS, "safety-domestic"), pack)
    other = os.path.join(tmp, "rules", "tsunami")
    shutil.copytree(os.path.join(PACKS, "tsunami"), other)
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
        cfg = harness.base_config(pg, sink)
        cfg["rules"] = {"paths": [pack]}
        anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "a"))
        want = pack_files(pack)

        got = harness.wait_for(lambda: entries(pg, 0) if len(entries(pg, 0)) >= len(want) else None, 20,
                               what="rules.added entries")
        added = {o[len("rules:"):]: s for a, o, s, _p in got if a == "rules.added"}
        check(set(added) == set(want) and all(a == "rules.added" for a, _o, _s, _p in got),
              "the first start records every rule and template file as added", (sorted(added), sorted(want)))
        check(all(added.get(p) == d for p, d in want.items()), "…each with its SHA-256", (added, want))

        # one template edited: exactly that change, with both digests
        tpl = os.path.join(pack, "templates", "safety-check.ja.txt")
        old = digest(tpl)
        with open(tpl, "a", encoding="utf-8") as f:
            f.write("\n（試験: 文面を一行追加）\n")
        mark = last_id(pg)
        anpid.restart()
        got = harness.wait_for(lambda: entries(pg, mark) or None, 20, what="rules.changed entry")
        check(got == [["rules.changed", "rules:" + tpl, digest(tpl), old]],
              "an edited template is one rules.changed entry with the new and previous digests", got)

        # nothing changed: nothing recorded
        mark = last_id(pg)
        seen = anpid.log().count("rule audit:")
        anpid.restart()
        harness.wait_for(lambda: anpid.log().count("rule audit:") > seen or None, 20, what="the rule audit")
        check("rule audit: 0 rule" in anpid.log().split("rule audit:", seen)[-1] and entries(pg, mark) == [],
              "a restart with the same files records nothing", entries(pg, mark))

        # another pack: the old files removed, the new ones added
        mark = last_id(pg)
        anpid.config["rules"] = {"paths": [other]}
        anpid.restart()
        want_new = pack_files(other)
        n = len(want) + len(want_new)
        got = harness.wait_for(lambda: entries(pg, mark) if len(entries(pg, mark)) >= n else None, 20,
                               what="the pack switch")
        removed = sorted(o[len("rules:"):] for a, o, _s, _p in got if a == "rules.removed")
        added = sorted(o[len("rules:"):] for a, o, _s, _p in got if a == "rules.added")
        check(removed == sorted(want) and added == sorted(want_new),
              "switching packs records the old files as removed and the new ones as added", got)
        actors = pg.psql("SELECT string_agg(DISTINCT split_part(actor, ':', 1), ',') FROM audit_log"
                         " WHERE action LIKE 'rules.%'")
        check(actors == "node", "the entries name the node that loaded the rules", actors)
        s, v = anpid.api.get("/api/v1/audit/verify")
        check(s == 200 and v.get("ok") is True, "the audit chain still verifies", (s, v))
        rc = anpid.stop()
        check(rc == 0, "anpid exits cleanly", rc)


if __name__ == "__main__":
    sys.exit(tap.main(run, "anpi-rulesaudit-", "the rule audit test", mode=0o755))
