"""fanout.py - fan-out of one safety broadcast into Postfix's smtp-sink,
measured against Postfix's smtp-source sending the same number of messages
of the same size into the same sink in the same run.

Run on demand (not part of the test suite), with Debian's interpreter:

    ANPI_BUILD_ROOT=build /usr/bin/python3 tests/bench/fanout.py

Everything is real: a private PostgreSQL 15 cluster, smtp-sink on loopback,
anpid as built with the shipped rule packs.  The directory is synthetic:
N people 試験 …, one address each (user00001@example.jp …), all living in
静岡県 (22), plus two duty officers in 沖縄県 (47).  The document is JMA's
official sample 32-35_07_01_100915_VXSE51.xml (静岡県 6-), read from
../shared/corpus at run time and pushed with ?replay=1; it opens one
safety-check incident whose audience is the N people.

Runs (each on a fresh database in the one cluster):

  dump    N (default 11,500), smtp-sink -d (one file per message): anpi's
          time, checked against the sink: exactly N distinct Message-IDs of
          the broadcast, one per address; gives anpi's mean message size.
  plain   N, smtp-sink without -d (nothing written): the headline figure.
  dkim    N, plain sink, dkim: RSA-2048 key made with openssl at run time.
  big     --big (default 100,000), plain sink: time and anpid's peak RSS
          (VmHWM) beyond its baseline after start-up, per queued recipient.

anpi's time: t0 = just before POST /api/v1/incidents/{id}/approve; done =
GET /api/v1/broadcasts/{id} first shows deliveries.sent == N (recorded after
the relay's 250; polled every --poll seconds, so done is late by at most one
poll).  In the dump run the last acceptance is also read from the newest dump
file's mtime.  smtp-source's time: its wall clock for N messages of anpi's
size (-l chosen so the transferred message matches), -s 8 sessions, one
connection per message as in the issue's command; the same with -d (reuse
connections, as anpi's pool does) is printed as a second reference.

Exit status: 0 when the run completed (goals met or not), 1 on errors (a
component failed, a count did not match, a timeout)."""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(HERE, "..", "..")
SHARED = os.environ.get("ANPI_SHARED") or os.path.join(SRC, "..", "shared")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
DOC = os.path.join(SHARED, "corpus", "jma", "official-samples", "32-35_07_01_100915_VXSE51.xml")
SMTP_SOURCE = os.environ.get("ANPI_SMTP_SOURCE", "/usr/sbin/smtp-source")
PREF = 22               # 静岡県: 6- in DOC
GOAL_RATIO = 1.25
GOAL_RSS_PER_RCPT = 1024
SOURCE_HEADER_BYTES = 0  # measured at run time (smtp-source adds From/To/Date/Message-Id)


class BenchError(RuntimeError):
    pass


def log(msg):
    print(msg, flush=True)


# --- the directory -----------------------------------------------------------

def address(i, n):
    return "user%0*d@example.jp" % (max(5, len(str(n))), i)


def people_csv(n):
    """N synthetic people in PREF, one address each, and two duty officers."""
    lines = ["id,name,kana,emails,regions,groups",
             "D1,試験 当直一,しけん とうちょくいち,duty1@example.jp,47,duty-officers",
             "D2,試験 当直二,しけん とうちょくに,duty2@example.jp,47,duty-officers"]
    for i in range(1, n + 1):
        lines.append("P%06d,試験 太郎%d,しけん たろう,%s,%02d,本省/安否" % (i, i, address(i, n), PREF))
    return "\n".join(lines) + "\n"


# --- a sink that writes nothing ----------------------------------------------

class PlainSink:
    """smtp-sink without -d: accepts every mail, writes nothing, so the
    sink's own disk work does not enter the comparison at 100,000."""

    def __init__(self, workdir):
        self.port = harness.free_port()
        argv = [harness.SMTP_SINK]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += ["127.0.0.1:%d" % self.port, "256"]
        self.logfile = os.path.join(workdir, "smtp-sink-plain.log")
        self._log = open(self.logfile, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        harness._live.append(self)
        harness.wait_for(self._accepting, 10, what="smtp-sink (plain) on port %d" % self.port)

    _accepting = harness.SmtpSink._accepting

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if not self._log.closed:
            self._log.close()
        if self in harness._live:
            harness._live.remove(self)


# --- dump files --------------------------------------------------------------

_MSGID = re.compile(rb"^Message-I[dD]:\s*<([^>]+)>", re.M | re.I)
_RCPT = re.compile(rb"^X-Rcpt-Args:\s*<([^>]*)>", re.M)


def sink_payload(raw):
    """The message as transferred: the dump without smtp-sink's X-* lines and
    its own Received: header."""
    pos = 0
    while raw.startswith(b"X-", pos):
        pos = raw.index(b"\n", pos) + 1
    if raw.startswith(b"Received:", pos):
        pos = raw.index(b"\n", pos) + 1
        while raw[pos:pos + 1] in (b"\t", b" "):
            pos = raw.index(b"\n", pos) + 1
    return raw[pos:]


def read_dumps(sink_dir, prefix, invert=False):
    """{message_id: [recipients...]}, mean transferred size, newest mtime (s)
    and the file count for dump files whose Message-ID starts with prefix
    (invert: those whose Message-ID does not)."""
    ids = {}
    sizes = 0
    count = 0
    newest = 0.0
    for path in glob.glob(os.path.join(sink_dir, "**", "*"), recursive=True):
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            raw = f.read()
        head = raw[:8192]
        m = _MSGID.search(head)
        mid = m.group(1).decode(errors="replace") if m else None
        if (mid is not None and mid.startswith(prefix)) == invert:
            continue
        rcpts = [r.decode(errors="replace") for r in _RCPT.findall(head)]
        ids.setdefault(mid, []).extend(rcpts)
        sizes += len(sink_payload(raw))
        count += 1
        newest = max(newest, os.stat(path).st_mtime)
    return ids, (sizes / count if count else 0), newest, count


# --- anpid -------------------------------------------------------------------

def vm(pid, key):
    """VmHWM / VmRSS of a process in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise BenchError("no %s for pid %d" % (key, pid))


def cpu_s(pid):
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_cpu_s(pg):
    """CPU seconds of the postmaster's children (backends and workers)."""
    with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
        pm = int(f.readline())
    total = cpu_s(pm)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pm:
                total += cpu_s(int(d))
    return total


_DURATION = re.compile(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)")


def statement_times(logfile, start):
    """{kind: [count, total ms, max ms]} of the statements PostgreSQL logged
    after byte offset start (log_min_duration_statement = 0)."""
    kinds = {}
    with open(logfile, "r", errors="replace") as f:
        f.seek(start)
        for line in f:
            m = _DURATION.search(line)
            if not m:
                continue
            sql = m.group(2)
            k = re.search(r"(anpi_[a-z_]+)\(", sql)
            kind = k.group(1) if k else " ".join(sql.split()[:3])[:40]
            ms = float(m.group(1))
            e = kinds.setdefault(kind, [0, 0.0, 0.0])
            e[0] += 1
            e[1] += ms
            e[2] = max(e[2], ms)
    return kinds


def make_dkim_key(workdir):
    path = os.path.join(workdir, "dkim-rsa.pem")
    if not os.path.exists(path):
        harness._run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                      "-out", path], 60, "openssl genpkey")
    return path


def new_database(pg, name):
    pg.psql("DROP DATABASE IF EXISTS %s" % name, db="postgres")
    pg.createdb(name)
    return "host=%s port=%d dbname=%s user=postgres" % (pg.sockdir, pg.port, name)


def anpid_config(conninfo, sink_port, csv_path=None, dkim_key=None, connections=None):
    public = "127.0.0.1:%d" % harness.free_port()
    cfg = {
        "database": {"conninfo": conninfo},
        "listen": {"public": public, "admin": "127.0.0.1:%d" % harness.free_port()},
        "public_url": "http://" + public,
        "api": {"token": "bench-token-0123456789abcdef"},
        "log": {"level": "info"},
        "smtp": {"relays": [{"host": "127.0.0.1", "port": sink_port, "tls": "none"}],
                 "from": "anpi@example.jp", "timeout": 30},
    }
    if connections:
        cfg["smtp"]["connections"] = connections
    if csv_path:
        cfg["directory"] = {"import": csv_path}
    if dkim_key:
        cfg["dkim"] = {"domain": "example.jp", "selector": "bench", "key": dkim_key}
    return cfg


def start_loaded(workdir, conninfo, sink_port, n, dkim_key=None, connections=None):
    """anpid on a database holding the directory: imported by a first start,
    then started again without the import so the baseline RSS is that of a
    plain start-up, not of parsing the CSV."""
    csv_path = os.path.join(workdir, "people.csv")
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write(people_csv(n))
    loader = harness.Anpid(BUILD, anpid_config(conninfo, sink_port, csv_path),
                           os.path.join(workdir, "import"), timeout=300)
    rc = loader.stop(60)
    if rc != 0:
        raise BenchError("anpid (import) exited %s: %s" % (rc, harness._tail(loader.logfile)))
    cfg = anpid_config(conninfo, sink_port, dkim_key=dkim_key, connections=connections)
    return harness.Anpid(BUILD, cfg, os.path.join(workdir, "anpid"), timeout=60)


def open_incident(anpid):
    """Push the document; returns the pending incident's id once the duty
    officers' approval mails are sent (so they are not in the measurement)."""
    with open(DOC, "rb") as f:
        doc = f.read()
    s, j = anpid.api.post("/api/v1/feeds/jma/documents?replay=1", body=doc,
                          content_type="application/xml")
    if s != 202:
        raise BenchError("push answered %s: %s" % (s, j))
    s, j = anpid.api.get("/api/v1/incidents")
    pending = [i for i in j.get("incidents", []) if i["status"] == "pending_approval"]
    if len(pending) != 1:
        raise BenchError("expected one pending incident, got %s" % j)

    def idle():
        s, h = anpid.api.get("/healthz")
        return s == 200 and h.get("deliveries_in_flight") == 0
    time.sleep(1.5)
    harness.wait_for(idle, 30, what="approval mails sent")
    return pending[0]["id"]


def sent_total(anpid):
    """anpi_deliveries_sent_total from /metrics: this process's count of
    relay 250s, kept in memory (reading it costs the database nothing)."""
    status, text = harness.Api(anpid.admin_url, timeout=10).get("/metrics")
    m = re.search(r"^anpi_deliveries_sent_total(?:\{[^}]*\})?\s+(\d+)", str(text), re.M)
    if status != 200 or not m:
        raise BenchError("/metrics: %s %s" % (status, str(text)[:200]))
    return int(m.group(1))


def fan_out(anpid, iid, n, poll, timeout):
    """Approve; wait until the relay accepted n more messages (/metrics),
    then until the database records n sent (the broadcast API).
    Returns (t0, t_accepted, t_recorded, broadcast id, approve call s)."""
    api = anpid.api
    base = sent_total(anpid)
    # the approval writes the whole audience in one transaction: at 100,000
    # recipients that takes longer than the harness's default 10 s timeout
    slow = harness.Api(anpid.admin_url, anpid.config.get("api", {}).get("token"), timeout=300)
    t0 = time.time()
    s, j = slow.post("/api/v1/incidents/%d/approve" % iid, body={"comment": "bench", "by": "bench"})
    t_answer = time.time()
    if s != 200:
        raise BenchError("approve answered %s: %s" % (s, j))
    deadline = time.monotonic() + timeout
    while True:
        got = sent_total(anpid) - base
        now = time.time()
        if got >= n:
            break
        if time.monotonic() > deadline:
            raise BenchError("timed out after %ds: %d of %d accepted" % (timeout, got, n))
        time.sleep(poll)
    t_accepted = now
    s, inc = api.get("/api/v1/incidents/%d" % iid)
    bids = inc.get("broadcasts") if isinstance(inc, dict) else None
    if not bids:
        raise BenchError("the approved incident lists no broadcast: %s" % inc)
    bid = bids[0]
    while True:
        s, b = api.get("/api/v1/broadcasts/%d" % bid)
        now = time.time()
        if s != 200:
            raise BenchError("broadcast %d: %s %s" % (bid, s, b))
        d = b["deliveries"]
        if d.get("failed", 0) or d.get("bounced", 0):
            raise BenchError("deliveries failed: %s" % d)
        if d["sent"] >= n:
            if d["sent"] != n:
                raise BenchError("sent %d, expected %d" % (d["sent"], n))
            return t0, t_accepted, now, bid, t_answer - t0
        if time.monotonic() > deadline:
            raise BenchError("timed out after %ds: %s" % (timeout, d))
        time.sleep(0.05)


def smtp_source(port, n, payload, reuse=False, sessions=8):
    argv = [SMTP_SOURCE, "-c", "-l", str(payload), "-m", str(n), "-s", str(sessions),
            "-f", "anpi@example.jp", "-t", "user@example.jp"]
    if reuse:
        argv.insert(1, "-d")
    argv.append("127.0.0.1:%d" % port)
    t0 = time.time()
    harness._run(argv, 1200, "smtp-source")
    return time.time() - t0


# --- the runs ------------------------------------------------------------------

def run(args, pg, workdir, label, n, dump, dkim_key=None, rss=False, payload=None):
    log("# %s: %d recipients, sink %s%s" % (label, n, "dump (-d)" if dump else "plain",
                                            ", DKIM rsa-sha256" if dkim_key else ""))
    wd = os.path.join(workdir, label)
    os.makedirs(wd, exist_ok=True)
    conninfo = new_database(pg, "anpi_" + label)
    sink = harness.SmtpSink(wd) if dump else PlainSink(wd)
    out = {"label": label, "n": n, "dump": dump, "dkim": bool(dkim_key)}
    try:
        anpid = start_loaded(wd, conninfo, sink.port, n, dkim_key, args.connections)
        try:
            iid = open_incident(anpid)
            pid = anpid.proc.pid
            hwm0, rss0 = vm(pid, "VmHWM"), vm(pid, "VmRSS")
            if args.statements:
                pg.psql("ALTER SYSTEM SET log_min_duration_statement = 0", db="postgres")
                pg.psql("SELECT pg_reload_conf()", db="postgres")
                time.sleep(0.5)
                log_start = os.path.getsize(pg.logfile)
            c_anpid, c_pg, c_sink = cpu_s(pid), pg_cpu_s(pg), cpu_s(sink.proc.pid)
            t0, t_done, t_rec, bid, t_approve = fan_out(anpid, iid, n, args.poll, args.timeout)
            hwm1 = vm(pid, "VmHWM")
            out.update(cpu_anpid=cpu_s(pid) - c_anpid, cpu_pg=pg_cpu_s(pg) - c_pg,
                       cpu_sink=cpu_s(sink.proc.pid) - c_sink)
            if args.statements:
                pg.psql("ALTER SYSTEM RESET log_min_duration_statement", db="postgres")
                pg.psql("SELECT pg_reload_conf()", db="postgres")
                out["statements"] = statement_times(pg.logfile, log_start)
            out.update(anpi_s=t_done - t0, recorded_s=t_rec - t0, approve_call_s=t_approve, broadcast=bid,
                       hwm_base=hwm0, rss_base=rss0, hwm_peak=hwm1,
                       rss_per_rcpt=(hwm1 - hwm0) / n)
            if dump:
                prefix = "anpi.%d." % bid

                def all_files():
                    return read_dumps(sink.dir, prefix)[3] >= n
                harness.wait_for(all_files, 30, interval=0.5, what="%d dump files" % n)
                ids, size, newest, count = read_dumps(sink.dir, prefix)
                rcpts = [r for v in ids.values() for r in v]
                want = {address(i, n) for i in range(1, n + 1)}
                out.update(files=count, distinct_ids=len(ids), distinct_rcpts=len(set(rcpts)),
                           mean_size=size, last_accept_s=newest - t0)
                if count != n or len(ids) != n or set(rcpts) != want:
                    raise BenchError("sink: %d files, %d distinct Message-IDs, %d distinct "
                                     "recipients, %d missing (want %d each)"
                                     % (count, len(ids), len(set(rcpts)), len(want - set(rcpts)), n))
            rc = anpid.stop(30)
            if rc != 0:
                raise BenchError("anpid exited %s" % rc)
        finally:
            anpid.stop(5)
        size = payload or out.get("mean_size")
        if size:
            pl = max(0, int(round(size - args.source_headers)))
            before = len(os.listdir(sink.dir)) if dump else 0
            out["source_s"] = smtp_source(sink.port, n, pl)
            out["source_reuse_s"] = smtp_source(sink.port, n, pl, reuse=True)
            out["source_payload"] = pl
            if dump:
                got = len(os.listdir(sink.dir)) - before
                if got != 2 * n:
                    raise BenchError("smtp-source: the sink has %d new files, want %d" % (got, 2 * n))
                out["source_mean_size"] = read_dumps(sink.dir, "anpi.", invert=True)[1]
    finally:
        sink.stop()
        pg.psql("DROP DATABASE IF EXISTS anpi_%s" % label, db="postgres", timeout=120)
    report_run(out)
    return out


def report_run(o):
    log("  anpi: %.2f s from approval to the %d-th relay 250 (%.0f msg/s); all recorded sent "
        "by %.2f s; approve call %.3f s"
        % (o["anpi_s"], o["n"], o["n"] / o["anpi_s"], o["recorded_s"], o["approve_call_s"]))
    if "last_accept_s" in o:
        log("  sink: %d files, %d distinct Message-IDs, %d distinct recipients; last acceptance "
            "at %.2f s; anpi's mean message %.0f bytes"
            % (o["files"], o["distinct_ids"], o["distinct_rcpts"], o["last_accept_s"], o["mean_size"]))
    if "source_s" in o:
        log("  smtp-source -s 8 -l %d: %.2f s (%.0f msg/s); ratio anpi/smtp-source %.2f"
            % (o["source_payload"], o["source_s"], o["n"] / o["source_s"], o["anpi_s"] / o["source_s"]))
        log("  smtp-source -d -s 8 (connection reuse): %.2f s; ratio %.2f"
            % (o["source_reuse_s"], o["anpi_s"] / o["source_reuse_s"]))
    log("  CPU during the fan-out: anpid %.2f s, PostgreSQL %.2f s, smtp-sink %.2f s (wall %.2f s)"
        % (o["cpu_anpid"], o["cpu_pg"], o["cpu_sink"], o["anpi_s"]))
    for kind, (cnt, tot, mx) in sorted(o.get("statements", {}).items(), key=lambda kv: -kv[1][1]):
        log("  SQL %-28s %6d x, total %8.1f ms, mean %6.2f ms, max %7.1f ms" % (kind, cnt, tot, tot / cnt, mx))
    log("  anpid VmHWM: baseline %.1f MiB (VmRSS %.1f MiB), peak %.1f MiB: %.0f bytes per recipient"
        % (o["hwm_base"] / 2**20, o["rss_base"] / 2**20, o["hwm_peak"] / 2**20, o["rss_per_rcpt"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=11500, help="recipients (default 11500)")
    ap.add_argument("--big", type=int, default=100000, help="recipients of the big run (0 = skip)")
    ap.add_argument("--runs", default="dump,plain,dkim,big",
                    help="which runs, comma-separated (default dump,plain,dkim,big)")
    ap.add_argument("--poll", type=float, default=0.02, help="/metrics poll interval, s")
    ap.add_argument("--timeout", type=int, default=1800, help="per fan-out, s")
    ap.add_argument("--connections", type=int, default=0,
                    help="smtp.connections for anpid (default: anpid's default)")
    ap.add_argument("--source-headers", type=int, default=115,
                    help="bytes smtp-source adds around -l (default 115; the dump run measures it)")
    ap.add_argument("--statements", action="store_true",
                    help="log every SQL statement during the fan-out and sum their durations "
                         "(costs time itself: for finding where time goes, not for the figures)")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    runs = [r for r in args.runs.split(",") if r]
    if not os.path.exists(DOC):
        raise BenchError("no corpus document %s (set ANPI_SHARED)" % DOC)
    workdir = tempfile.mkdtemp(prefix="anpi-fanout-")
    os.chmod(workdir, 0o711)
    results = []
    try:
        pg = harness.PgCluster(workdir, dbname="postgres", start=False)
        pg.start()
        size = None
        if "dump" in runs:
            r = run(args, pg, workdir, "dump", args.n, True)
            size = r["mean_size"]
            if "source_mean_size" in r:
                # what smtp-source adds around -l, so later runs match anpi's size
                args.source_headers = int(round(r["source_mean_size"] - r["source_payload"]))
                log("  smtp-source's message: %.0f bytes transferred (anpi's %.0f); it adds %d "
                    "bytes of headers to -l" % (r["source_mean_size"], size, args.source_headers))
            results.append(r)
        dkim_key = make_dkim_key(workdir) if "dkim" in runs else None
        if "plain" in runs:
            results.append(run(args, pg, workdir, "plain", args.n, False, payload=size))
        if "dkim" in runs:
            results.append(run(args, pg, workdir, "dkim", args.n, False, dkim_key=dkim_key,
                               payload=size))
        if "big" in runs and args.big:
            results.append(run(args, pg, workdir, "big", args.big, False, payload=size))
        pg.stop()
    finally:
        if args.keep:
            log("# work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    log("# summary")
    by = {r["label"]: r for r in results}
    if "plain" in by and "source_s" in by["plain"]:
        p = by["plain"]
        ratio = p["anpi_s"] / p["source_s"]
        log("goal anpi within %.2fx of smtp-source (no DKIM, %d): %.2fx %s"
            % (GOAL_RATIO, p["n"], ratio, "met" if ratio <= GOAL_RATIO else "NOT met"))
    if "dkim" in by and "plain" in by:
        d, p = by["dkim"], by["plain"]
        log("DKIM cost at %d: %.2f s vs %.2f s (+%.2f s, %.0f us per message)"
            % (d["n"], d["anpi_s"], p["anpi_s"], d["anpi_s"] - p["anpi_s"],
               1e6 * (d["anpi_s"] - p["anpi_s"]) / d["n"]))
    if "big" in by:
        b = by["big"]
        log("goal under %d bytes RSS per queued recipient (%d): %.0f bytes %s; time %.1f s"
            % (GOAL_RSS_PER_RCPT, b["n"], b["rss_per_rcpt"],
               "met" if b["rss_per_rcpt"] < GOAL_RSS_PER_RCPT else "NOT met", b["anpi_s"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, harness.HarnessError) as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
