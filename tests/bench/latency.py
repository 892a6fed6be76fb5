"""latency.py - feed-to-mail latency of anpid, measured end to end.

Run on demand (not part of the test suite), with Debian's interpreter:

    ANPI_BUILD_ROOT=build /usr/bin/python3 tests/bench/latency.py

Everything is real: a private PostgreSQL 15 cluster, Postfix's smtp-sink as
the SMTP peer, anpid as built with the shipped rule packs, a directory of 250
information recipients (synthetic 試験 names, example.jp addresses) plus two
duty officers.  Documents are variants of the corpus documents under
../shared/corpus, derived in memory at run time (never written into the
repository): each gets a unique 14-digit EventID (CAP: identifier) and its
times moved so that its report time is now, keeping type and content.

Measured, per information type (earthquake VXSE53 5- or more, EEW warning
VXSE43, tsunami VTSE41, typhoon VPTW60, missile CAP):

  push    t0 = just before POST /api/v1/feeds/{source}/documents;
          engine share = t0 -> first message of the document's information
          broadcast accepted by smtp-sink; also t0 -> HTTP answer (ingest,
          i.e. parse + rules + COMMIT) and t0 -> last of the 250 recipients.
  poll    a local HTTP server serves a JMA Atom feed; t0 = the entry is added;
          poll wait = t0 -> the document's GET arrives; engine share = the
          document was served -> first message accepted.
  flash   one EEW warning to 250 recipients: t0 -> LAST acceptance.

Acceptance times are the mtimes (ns) of smtp-sink's per-message dump files,
on the same clock (CLOCK_REALTIME, time.time()) as t0.  Documents are sent
one at a time and each document's 250 messages are awaited before the next
(latency of a single alert on an idle system, not throughput).

Exit status: 0 when the run completed (goals met or not), 1 on errors (a
component failed, a document produced no mail, a timeout)."""

import argparse
import datetime
import glob
import http.server
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(HERE, "..", "..")
SHARED = os.environ.get("ANPI_SHARED") or os.path.join(SRC, "..", "shared")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
CORPUS = os.path.join(SHARED, "corpus", "jma")

GOAL_ENGINE_P99_MS = 500.0
GOAL_FLASH_S = 5.0
N_INFO = 250
MAIL_TIMEOUT_S = 60.0
NO_MAIL_S = 10.0               # a document that mailed nobody this long after it was served

JMX = "http://xml.kishou.go.jp/jmaxml1/"
JMX_IB = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
JMX_SEIS = "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
RANK = {"1": 1, "2": 2, "3": 3, "4": 4, "5-": 5, "5+": 6, "6-": 7, "6+": 8, "7": 9}

# Types in the order they are interleaved; label -> (source, corpus kinds).
TYPES = [
    ("earthquake", "jma", ["VXSE53"]),
    ("eew", "jma", ["VXSE43"]),
    ("tsunami", "jma", ["VTSE41"]),
    ("typhoon", "jma", ["VPTW60"]),
    ("missile", "cap", []),
]


class BenchError(RuntimeError):
    pass


# --- documents ---------------------------------------------------------------

ISO_RE = re.compile(rb"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _parse_iso(m):
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    tz = m.group(8).decode()
    off = datetime.timedelta(0) if tz == "Z" else datetime.timedelta(
        hours=int(tz[1:3]), minutes=int(tz[4:6])) * (1 if tz[0] == "+" else -1)
    return datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone(off))


def shift_times(body, now):
    """Every ISO 8601 time in the document moved by one offset so that
    Head/ReportDateTime is `now` (a datetime in UTC); offsets are kept."""
    m = re.search(rb"<ReportDateTime>([^<]+)</ReportDateTime>", body)
    if not m:
        raise BenchError("no Head/ReportDateTime to shift")
    ref = _parse_iso(ISO_RE.match(m.group(1)))
    delta = now - ref

    def sub(mm):
        t = _parse_iso(mm) + delta
        tz = mm.group(8).decode()
        text = t.strftime("%Y-%m-%dT%H:%M:%S") + tz
        return text.encode()
    return ISO_RE.sub(sub, body)


def set_event_id(body, event_id):
    out, n = re.subn(rb"<EventID>[^<]*</EventID>", b"<EventID>" + event_id.encode() + b"</EventID>",
                     body, count=1)
    if n != 1:
        raise BenchError("no Head/EventID to replace")
    return out


TD_NAME_RE = re.compile(rb"<TyphoonNamePart>\s*<Name/>\s*<NameKana/>\s*<Number/>")


def name_typhoon(body):
    """The corpus's typhoon analyses (VPTW60) describe a tropical depression,
    which has no number yet, and typhoon-info mails numbered typhoons only;
    the corpus has no weather warning (VPWW5x) either.  So the weather type
    uses the analysis with the depression named: 台風第99号 (BENCH).  All
    else is the corpus document."""
    named = "<TyphoonNamePart><Name>BENCH</Name><NameKana>ベンチ</NameKana><Number>2099</Number>"
    out, n = TD_NAME_RE.subn(named.encode(), body)
    return out if n else body


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _head_ok(root):
    """Actual (通常) and a plain issue (発表): what an information rule mails."""
    status = info = None
    for el in root.iter():
        name = _local(el.tag)
        if name == "Status" and status is None:
            status = (el.text or "").strip()
        elif name == "InfoType" and info is None:
            info = (el.text or "").strip()
    return status == "通常" and info == "発表"


def _quake_max(root):
    """Body/Intensity/Observation/MaxInt, or None."""
    for body in root:
        if _local(body.tag) != "Body":
            continue
        for inten in body:
            if _local(inten.tag) != "Intensity":
                continue
            for obs in inten:
                if _local(obs.tag) != "Observation":
                    continue
                for c in obs:
                    if _local(c.tag) == "MaxInt":
                        return (c.text or "").strip()
    return None


def corpus_templates(kinds):
    """Corpus files of these kinds that an information rule would mail:
    actual, issued (not a correction or cancellation), and for VXSE53 an
    observed maximum of 5- or more.  Sorted paths."""
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "**", "*.xml"), recursive=True)):
        name = os.path.basename(path)
        if not any("_" + k in name for k in kinds):
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        if not _head_ok(root):
            continue
        if "VXSE53" in kinds and RANK.get(_quake_max(root) or "", 0) < RANK["5-"]:
            continue
        out.append(path)
    return out


# A missile alert written for this benchmark (there is no CAP document in the
# corpus): Jアラート style launch information for 沖縄県.
CAP_ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>BENCH-MISSILE-{ident}</identifier>
  <sender>bench@example.jp</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ja-JP</language>
    <category>Security</category>
    <event>ミサイル発射</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <headline>ミサイル発射情報（試験用）</headline>
    <description>性能試験用の文書です（anpi の性能試験で作成）。</description>
    <area>
      <areaDesc>沖縄県</areaDesc>
      <geocode><valueName>JIS X 0401</valueName><value>47</value></geocode>
    </area>
  </info>
</alert>
"""


class DocMaker:
    """Unique, current variants of the corpus documents, per type."""

    def __init__(self):
        self.pool = {}
        self.raw = {}
        # 14 digits like a JMA EventID, in a range no real quake uses (year 2999)
        self.next_id = 29990101000000 + random.randrange(0, 10 ** 6) * 100
        for label, source, kinds in TYPES:
            if source == "jma":
                paths = corpus_templates(kinds)
                if not paths:
                    raise BenchError("corpus: no usable %s document (%s) under %s"
                                     % (label, "/".join(kinds), CORPUS))
                self.pool[label] = paths
                for p in paths:
                    with open(p, "rb") as f:
                        self.raw[p] = f.read()
            else:
                self.pool[label] = ["(synthetic CAP)"]
        self.turn = {label: 0 for label, _, _ in TYPES}

    def drop(self, label, template):
        """A template that turned out to mail nobody is not used again."""
        if template in self.pool[label] and len(self.pool[label]) > 1:
            self.pool[label].remove(template)
            return True
        return False

    def make(self, label):
        """(source, template, event key, body bytes) of a fresh document."""
        pool = self.pool[label]
        template = pool[self.turn[label] % len(pool)]
        self.turn[label] += 1
        self.next_id += 1
        key = "%014d" % self.next_id
        now = datetime.datetime.now(datetime.timezone.utc)
        if label == "missile":
            body = CAP_ALERT.format(ident=key, sent=now.strftime("%Y-%m-%dT%H:%M:%S+00:00")).encode()
            return "cap", template, key, body
        body = set_event_id(shift_times(self.raw[template], now), key)
        if label == "typhoon":
            body = name_typhoon(body)
        return "jma", template, key, body


# --- the SMTP peer's dump files ------------------------------------------------

MSGID_RE = re.compile(rb"^Message-I[Dd]:\s*<anpi\.(\d+)\.", re.M)
RCPT_RE = re.compile(rb"^X-Rcpt-Args:\s*<([^>]*)>", re.M)


class Mailbox:
    """Reads smtp-sink's dump files as they appear: per broadcast id the
    acceptance times (ns since the epoch) and recipients.  Files are deleted
    once read, so the directory stays small over thousands of messages."""

    def __init__(self, sink):
        self.dir = sink.dir
        self.by_bid = {}       # bid -> [(mtime_ns, rcpt)]
        self.size = {}         # bid -> size of one of its dump files (bytes)
        self.total = 0

    def scan(self):
        now = time.time_ns()
        for ent in os.scandir(self.dir):
            try:
                st = ent.stat()
            except FileNotFoundError:
                continue
            # a dump still being written gets a later mtime; wait until idle
            if now - st.st_mtime_ns < 20_000_000:
                continue
            with open(ent.path, "rb") as f:
                head = f.read(16384)
            m = MSGID_RE.search(head)
            if not m:
                if now - st.st_mtime_ns > 5_000_000_000:
                    raise BenchError("a message without an anpi Message-ID in %s" % ent.path)
                continue
            r = RCPT_RE.search(head)
            bid = int(m.group(1))
            self.by_bid.setdefault(bid, []).append((st.st_mtime_ns, r.group(1).decode() if r else ""))
            self.size.setdefault(bid, st.st_size)
            self.total += 1
            os.unlink(ent.path)

    def wait(self, bids, count, timeout=MAIL_TIMEOUT_S):
        """Until each broadcast in bids has `count` messages; returns
        {bid: sorted mtimes}."""
        deadline = time.monotonic() + timeout
        while True:
            self.scan()
            if all(len(self.by_bid.get(b, [])) >= count for b in bids):
                return {b: sorted(t for t, _ in self.by_bid[b]) for b in bids}
            if time.monotonic() > deadline:
                raise BenchError("timed out after %.0fs waiting for %d messages of broadcast(s) %s (got %s)"
                                 % (timeout, count, bids, [len(self.by_bid.get(b, [])) for b in bids]))
            time.sleep(0.005)

    def new_info_bids(self, known):
        """Broadcast ids not in `known` with a message to an information
        recipient (info-NNN@example.jp)."""
        self.scan()
        return sorted(b for b, v in self.by_bid.items()
                      if b not in known and any(r.startswith("info-") for _, r in v))


# --- a local feed server (the poll path) ----------------------------------------

class FeedServer:
    """Serves /feed.xml (a JMA Atom feed) and /data/<name>; records when
    each document's GET arrived and when its body was written."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = []          # Atom <entry> strings, newest first
        self.docs = {}             # path -> bytes
        self.arrived = {}          # path -> time.time() of the first GET
        self.served = {}           # path -> time.time() after the body was written
        self.feed_gets = 0
        self.feed_times = []       # time.time() of every feed GET
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                t = time.time()
                if self.path == "/feed.xml":
                    with outer.lock:
                        outer.feed_gets += 1
                        outer.feed_times.append(t)
                        body = outer._feed()
                    ctype = "application/atom+xml"
                else:
                    with outer.lock:
                        body = outer.docs.get(self.path)
                        outer.arrived.setdefault(self.path, t)
                    ctype = "application/xml"
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                if self.path != "/feed.xml":
                    with outer.lock:
                        outer.served.setdefault(self.path, time.time())

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def _feed(self):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom" lang="ja">'
                '<title>高頻度フィード（性能試験）</title><subtitle>anpi bench</subtitle>'
                '<updated>%s</updated><id>urn:anpi:bench:feed</id>'
                '<link href="%s/feed.xml" rel="self"/>'
                '<author><name>anpi bench</name></author>%s</feed>'
                % (now, self.base, "".join(self.entries))).encode()

    def add(self, name, title, body):
        """Publish a document: returns the path it is served at and t0."""
        path = "/data/" + name
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        entry = ('<entry><title>%s</title><id>%s%s</id><updated>%s</updated>'
                 '<author><name>気象庁</name></author>'
                 '<link type="application/xml" href="%s%s"/><content type="text">%s</content></entry>'
                 % (title, self.base, path, now, self.base, path, title))
        with self.lock:
            self.docs[path] = body
            self.entries.insert(0, entry)
            del self.entries[40:]
            t0 = time.time()
        return path, t0

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


# --- statistics and output ----------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(1, int(-(-p * len(v) // 100)))      # ceil(p/100 * n)
    return v[min(k, len(v)) - 1]


def row(name, values, unit_ms=True):
    if not values:
        return "%-38s %5d %9s %9s %9s" % (name, 0, "-", "-", "-")
    f = (lambda x: "%9.0f" % x) if unit_ms else (lambda x: "%9.2f" % x)
    return "%-38s %5d %s %s %s" % (name, len(values), f(pct(values, 50)), f(pct(values, 99)), f(max(values)))


def people_csv():
    lines = ["id,name,kana,emails,regions,groups",
             "D1,試験 当直一,しけん とうちょくいち,duty1@example.jp,13,duty-officers",
             "D2,試験 当直二,しけん とうちょくに,duty2@example.jp,27,duty-officers"]
    for i in range(1, N_INFO + 1):
        pref = (i - 1) % 47 + 1           # spread over every prefecture
        lines.append("I%03d,試験 情報%03d,しけん じょうほう,info-%03d@example.jp,%02d,info-recipients"
                     % (i, i, i, pref))
    return "\n".join(lines) + "\n"


def info_bids(answer):
    """Broadcast ids of the information mails a push answer reports."""
    bids = []
    for ev in answer.get("events", []) if isinstance(answer, dict) else []:
        for a in ev.get("actions", []) or []:
            if "information mail" in str(a.get("action", "")):
                r = a.get("result")
                if isinstance(r, (int, str)) and str(r).isdigit():
                    bids.append(int(r))
    return bids


# --- the phases ----------------------------------------------------------------------

def run_push(api, box, maker, n_docs, results, log):
    labels = [label for label, _, _ in TYPES]
    dropped = []
    i = 0
    while sum(len(v) for v in results.values()) < n_docs:
        label = labels[i % len(labels)]
        i += 1
        source, template, key, body = maker.make(label)
        t0 = time.time()
        status, answer = api.post("/api/v1/feeds/%s/documents" % source, body=body,
                                  content_type="application/xml")
        t_ans = time.time()
        if status != 202:
            raise BenchError("%s document from %s: push answered %s: %s"
                             % (label, os.path.basename(template), status, answer))
        bids = info_bids(answer)
        if not bids:
            if maker.drop(label, template):
                dropped.append((label, os.path.basename(template)))
                log("  %s: %s mails nobody (no information rule matched); not used again"
                    % (label, os.path.basename(template)))
                continue
            raise BenchError("%s document from %s produced no information mail: %s"
                             % (label, os.path.basename(template), json.dumps(answer)[:600]))
        got = box.wait(bids, N_INFO)
        first = min(v[0] for v in got.values()) / 1e9
        last = max(v[-1] for v in got.values()) / 1e9
        results[label].append({"ingest": (t_ans - t0) * 1000, "first": (first - t0) * 1000,
                               "dispatch": (first - t_ans) * 1000, "last": last - t0,
                               "template": os.path.basename(template), "key": key, "bids": bids,
                               "bytes": max(box.size.get(b, 0) for b in bids)})
        n = sum(len(v) for v in results.values())
        if n % 25 == 0:
            log("  push: %d/%d documents" % (n, n_docs))
    return dropped


def run_poll(feeds, box, maker, n_docs, interval, log):
    """Sequential: one new entry at a random moment of the poll cycle, then
    wait for its mails before the next one."""
    out = []
    labels = [label for label, source, _ in TYPES if source == "jma"]
    known = set(box.by_bid)
    i = 0
    while len(out) < n_docs:
        label = labels[i % len(labels)]
        i += 1
        _source, template, key, body = maker.make(label)
        time.sleep(random.uniform(0, interval))
        path, t0 = feeds.add("bench-%s-%s.xml" % (label, key), "性能試験 %s" % label, body)
        deadline = time.monotonic() + interval * 3 + MAIL_TIMEOUT_S
        bids = []
        while not bids:
            if time.monotonic() > deadline:
                raise BenchError("poll: no information mail for %s (%s) within %.0fs; fetched: %s"
                                 % (path, os.path.basename(template), interval * 3 + MAIL_TIMEOUT_S,
                                    path in feeds.arrived))
            bids = box.new_info_bids(known)
            with feeds.lock:
                served = feeds.served.get(path)
            if not bids and served and time.time() - served > NO_MAIL_S:
                # served long ago and nothing: a template no rule mails
                # (the push phase normally weeds these out first)
                if not maker.drop(label, template):
                    raise BenchError("poll: %s (%s) was fetched but mailed nobody"
                                     % (path, os.path.basename(template)))
                log("  poll: %s mails nobody; not used again" % os.path.basename(template))
                break
            time.sleep(0.005)
        if not bids:
            continue
        got = box.wait(bids, N_INFO)
        known.update(box.by_bid)
        first = min(v[0] for v in got.values()) / 1e9
        with feeds.lock:
            arrived, served = feeds.arrived.get(path), feeds.served.get(path)
        if arrived is None or served is None:
            raise BenchError("poll: mail for %s but the document was never fetched" % path)
        out.append({"label": label, "wait": (arrived - t0) * 1000, "engine": (first - served) * 1000,
                    "total": (first - t0) * 1000})
        log("  poll %d/%d: %s wait %.0f ms, engine %.0f ms" % (len(out), n_docs, label,
                                                                out[-1]["wait"], out[-1]["engine"]))
    return out


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d CPU(s), %s" % (os.cpu_count() or 0, model)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=200, help="pushed documents (all types; default 200)")
    ap.add_argument("--poll", type=int, default=20, help="polled documents (default 20)")
    ap.add_argument("--interval", type=int, default=10, help="feeds.jma.interval in seconds (min 10)")
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (anpid.log)")
    args = ap.parse_args()
    if args.interval < 10:
        ap.error("--interval: anpid's minimum poll interval is 10 s")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    maker = DocMaker()
    load_start = os.getloadavg()
    log("templates: " + ", ".join("%s %d" % (k, len(v)) for k, v in maker.pool.items()))
    tmp = tempfile.mkdtemp(prefix="anpi-bench-")
    os.chmod(tmp, 0o755)
    feeds = FeedServer()
    results = {label: [] for label, _, _ in TYPES}
    try:
        with harness.PgCluster(tmp) as pg, harness.SmtpSink(tmp) as sink:
            csv_path = os.path.join(tmp, "people.csv")
            with open(csv_path, "w", encoding="utf-8") as f:
                f.write(people_csv())
            cfg = harness.base_config(pg, sink, directory={"import": csv_path},
                                      feeds={"jma": {"url": feeds.base + "/feed.xml",
                                                     "interval": "%ds" % args.interval}})
            cfg["log"] = {"level": "info"}
            anpid = harness.Anpid(BUILD, cfg, os.path.join(tmp, "anpid"))
            box = Mailbox(sink)
            log("anpid up (%s); work dir %s" % (anpid.binary, tmp))
            harness.wait_for(lambda: feeds.feed_gets >= 1, 30, what="the first poll of the feed")

            log("push: %d documents" % args.docs)
            dropped = run_push(anpid.api, box, maker, args.docs, results, log)
            log("poll: %d documents, interval %ds" % (args.poll, args.interval))
            polled = run_poll(feeds, box, maker, args.poll, args.interval, log)
            rc = anpid.stop()
            if rc != 0:
                raise BenchError("anpid exited with %s" % rc)
            # why a poll came late: gaps between feed requests, and what the
            # poller logged (its errors back off: the interval doubles)
            with feeds.lock:
                ft = list(feeds.feed_times)
            gaps = [b - a for a, b in zip(ft, ft[1:])]
            poller_warnings = [ln.strip() for ln in anpid.log().splitlines()
                               if '"level":"warn' in ln and "poller" in ln]
    except (BenchError, harness.HarnessError) as e:
        log("error: %s" % e)
        log("work dir kept: %s" % tmp)
        return 1
    finally:
        feeds.stop()

    # --- report ---
    print("anpi feed-to-mail latency  (%s; %d information recipients; build %s)"
          % (machine(), N_INFO, os.path.abspath(BUILD)))
    print("push: t0 = before POST; first/last = smtp-sink accepted the first/last message of the document")
    print()
    print("%-38s %5s %9s %9s %9s" % ("ms", "n", "p50", "p99", "max"))
    engine_all = []
    goal_ok = True
    for label, _, _ in TYPES:
        r = results[label]
        firsts = [x["first"] for x in r]
        engine_all += firsts
        print(row("push %s: engine (t0->first)" % label, firsts))
        print(row("  ingest (t0->HTTP 202)", [x["ingest"] for x in r]))
        print(row("  dispatch (202->first)", [x["dispatch"] for x in r]))
        if firsts and pct(firsts, 99) >= GOAL_ENGINE_P99_MS:
            goal_ok = False
    print(row("push all types: engine", engine_all))
    print("%-38s %s" % ("message size, bytes (p50)", ", ".join(
        "%s %d" % (label, pct([x["bytes"] for x in results[label]], 50))
        for label, _, _ in TYPES if results[label])))
    print(row("poll wait (t0->GET)", [x["wait"] for x in polled]))
    print(row("poll engine (served->first)", [x["engine"] for x in polled]))
    print(row("poll total (t0->first)", [x["total"] for x in polled]))
    print()
    print("%-38s %5s %9s %9s %9s" % ("s", "n", "p50", "p99", "max"))
    flash = [x["last"] for x in results["eew"]]
    print(row("flash EEW: t0->last of %d" % N_INFO, flash, unit_ms=False))
    print(row("all types: t0->last of %d" % N_INFO,
              [x["last"] for v in results.values() for x in v], unit_ms=False))
    poll_engine = [x["engine"] for x in polled]
    poll_ok = not poll_engine or pct(poll_engine, 99) < GOAL_ENGINE_P99_MS
    flash_ok = bool(flash) and max(flash) <= GOAL_FLASH_S
    print()
    print("poll interval: %d s; smtp-sink messages read: %d; load average (1 min) at start %.1f, at end %.1f"
          % (args.interval, box.total, load_start[0], os.getloadavg()[0]))
    print("feed requests: %d; longest gap between two %.1f s; gaps over %d s: %d"
          % (len(ft), max(gaps) if gaps else 0, args.interval + 2,
             sum(1 for g in gaps if g > args.interval + 2)))
    for ln in poller_warnings[:10]:
        print("anpid: " + ln)
    if dropped:
        print("templates that mailed nobody (skipped): %s" % ", ".join("%s:%s" % d for d in dropped))
    print("goal engine share p99 < %.0f ms (push, every type): %s"
          % (GOAL_ENGINE_P99_MS, "met" if goal_ok else "NOT met"))
    print("goal engine share p99 < %.0f ms (poll): %s" % (GOAL_ENGINE_P99_MS, "met" if poll_ok else "NOT met"))
    print("goal %d flash recipients within %.0f s (max): %s"
          % (N_INFO, GOAL_FLASH_S, "not measured" if not flash else "met" if flash_ok else "NOT met"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine(), "load_start": load_start, "load_end": os.getloadavg(),
                       "push": results, "poll": polled,
                       "interval_s": args.interval}, f, ensure_ascii=False, indent=1)
    if args.keep:
        print("work dir: %s (anpid.log under anpid/)" % tmp)
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
