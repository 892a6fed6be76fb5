"""Two anpid processes on one database drain one broadcast together without
sending anything twice.

Real PostgreSQL 15 cluster, Postfix's smtp-sink (dump mode: one file per
message), two anpid processes with the same config except their listen
ports.  1,500 synthetic people (試験 …, user0001@example.jp …) live in
静岡県; the document is JMA's official sample 32-35_07_01_100915_VXSE51.xml
(静岡県 6-) from ../shared/corpus, pushed with ?replay=1 to node A and
approved through node A.

The sink answers DATA after one second (smtp-sink -w 1) and each node keeps
up to 40 connections, so the send takes some 20 s: long enough that node B,
which only learns of the work from its dispatch timer (every second), claims
its share.  With an instant sink node A could drain all 1,500 alone before
B's first look, and "both sent some" would depend on timing.

Checked: sent == 1,500; the sink holds exactly 1,500 messages of the
broadcast, 1,500 distinct Message-IDs, one per address; both nodes' /metrics
anpi_deliveries_sent_total are > 0 and add up to what the sink received; no
delivery was attempted twice.  Prints TAP."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SHARED = os.environ.get("ANPI_SHARED") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")
SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
DOC = os.path.join(SHARED, "corpus", "jma", "official-samples", "32-35_07_01_100915_VXSE51.xml")
N = 1500
PREF = 22       # 静岡県, 6- in DOC
SEND_TIMEOUT = 90

tap = harness.Tap()
check = tap.check


def people_csv():
    lines = ["id,name,kana,emails,regions,groups",
             "D1,試験 当直一,しけん とうちょくいち,duty1@example.jp,47,duty-officers"]
    for i in range(1, N + 1):
        lines.append("P%05d,試験 花子%d,しけん はなこ,user%04d@example.jp,%02d,本省/安否" % (i, i, i, PREF))
    return "\n".join(lines) + "\n"


def sent_total(anpid):
    status, text = harness.Api(anpid.admin_url, timeout=5).get("/metrics")
    m = re.search(r"^anpi_deliveries_sent_total(?:\{[^}]*\})?\s+(\d+)", str(text), re.M)
    return int(m.group(1)) if status == 200 and m else None


def sink_counts(sink, prefix):
    """{Message-ID: [recipients]} of the dump files whose Message-ID starts
    with prefix, and the number of dump files in all."""
    ids = {}
    files = sink.files()
    for path in files:
        with open(path, "rb") as f:
            head = f.read(8192)
        m = re.search(rb"^Message-I[dD]:\s*<([^>]+)>", head, re.M | re.I)
        if not m or not m.group(1).decode().startswith(prefix):
            continue
        rcpts = [r.decode() for r in re.findall(rb"^X-Rcpt-Args:\s*<([^>]*)>", head, re.M)]
        ids.setdefault(m.group(1).decode(), []).extend(rcpts)
    return ids, len(files)


def run(tmp):
    check(os.path.exists(DOC), "corpus: the 2009 駿河湾 report is readable", DOC)
    with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp, extra_args=["-w", "1"]) as sink:
        csv_path = os.path.join(tmp, "people.csv")
        with open(csv_path, "w", encoding="utf-8") as f:
            f.write(people_csv())
        cfg_a = harness.base_config(pg, sink, directory={"import": csv_path})
        cfg_a["log"] = {"level": "info"}
        cfg_a["smtp"]["connections"] = 40
        cfg_a["smtp"]["timeout"] = 30
        # B: the same database, sink and token; its own ports; no import (A did it)
        cfg_b = harness.base_config(pg, sink)
        cfg_b["log"] = {"level": "info"}
        cfg_b["smtp"] = dict(cfg_a["smtp"])
        a = harness.Anpid(BUILD, cfg_a, os.path.join(tmp, "a"), timeout=60)
        b = harness.Anpid(BUILD, cfg_b, os.path.join(tmp, "b"), timeout=60)
        check(a.alive() and b.alive(), "two anpid processes on one database are up")

        with open(DOC, "rb") as f:
            s, j = a.api.post("/api/v1/feeds/jma/documents?replay=1", body=f.read(),
                              content_type="application/xml")
        check(s == 202, "the report is stored through node A (202)", (s, j))
        s, j = b.api.get("/api/v1/incidents")
        pending = [i for i in j.get("incidents", []) if i["status"] == "pending_approval"]
        check(len(pending) == 1, "node B sees the one incident waiting for approval", j)
        iid = pending[0]["id"]
        # the approval mail to the duty officer goes out before the safety mails
        harness.wait_for(lambda: len(sink.files()) >= 1, 20, what="the approval mail")
        s, j = a.api.post("/api/v1/incidents/%d/approve" % iid, body={"comment": "two nodes",
                                                                      "by": "tester"})
        check(s == 200, "approved through node A", (s, j))
        s, inc = a.api.get("/api/v1/incidents/%d" % iid)
        bid = inc["broadcasts"][0]

        def all_sent():
            st, br = b.api.get("/api/v1/broadcasts/%d" % bid)
            return st == 200 and br["deliveries"]["sent"] >= N and br
        t0 = time.monotonic()
        br = harness.wait_for(all_sent, SEND_TIMEOUT, interval=0.5, what="sent == %d" % N)
        took = time.monotonic() - t0
        check(br["deliveries"]["sent"] == N and br["deliveries"]["failed"] == 0
              and br["deliveries"]["queued"] == 0,
              "every delivery is sent, none failed or left (%.1f s)" % took, br["deliveries"])

        # both processes are still serving: nothing more may arrive
        time.sleep(1.5)
        ids, files = sink_counts(sink, "anpi.%d." % bid)
        rcpts = [r for v in ids.values() for r in v]
        want = {"user%04d@example.jp" % i for i in range(1, N + 1)}
        check(len(rcpts) == N and len(ids) == N,
              "the sink holds exactly %d safety mails with %d distinct Message-IDs" % (N, N),
              "%d mails, %d distinct Message-IDs" % (len(rcpts), len(ids)))
        check(set(rcpts) == want, "one mail per address, every address reached",
              "missing %s, unexpected %s" % (sorted(want - set(rcpts))[:5], sorted(set(rcpts) - want)[:5]))
        sa, sb = sent_total(a), sent_total(b)
        check(sa is not None and sb is not None and sa > 0 and sb > 0,
              "both nodes sent some (A %s, B %s)" % (sa, sb), (sa, sb))
        check(sa is not None and sb is not None and sa + sb == files,
              "the nodes' sent counters add up to what the sink received",
              "A %s + B %s vs %d files" % (sa, sb, files))
        twice = pg.psql("SELECT count(*) FROM deliveries WHERE broadcast_id = %d AND attempts <> 1" % bid)
        check(twice == "0", "no delivery was attempted twice", twice)
        ra, rb = a.stop(), b.stop()
        check(ra == 0 and rb == 0, "both nodes stop cleanly", "A %s, B %s\n%s\n%s"
              % (ra, rb, harness._tail(a.logfile, 10), harness._tail(b.logfile, 10)))


if __name__ == "__main__":
    print("TAP version 13", flush=True)
    sys.exit(tap.main(run, "anpi-two-nodes-", quiet=True))
