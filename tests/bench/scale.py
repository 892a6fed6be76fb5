"""scale.py - the directory at the size of a ministry: import time, audience
resolution time and the per-group tally under 200 concurrent group admins.

Run on demand (not part of the test suite), with Debian's interpreter, from
the source directory after `ninja -C build`:

    ANPI_BUILD_ROOT=build /usr/bin/python3 tests/bench/scale.py

Needs what the integration suite needs (PostgreSQL 15 binaries, Postfix's
smtp-sink) plus wrk (Debian package `wrk`, scripts/install-deps.sh).

Everything is real: a private PostgreSQL 15 cluster, smtp-sink on loopback,
anpid as built.  The directory is synthetic and deterministic (--seed):

  groups   --groups (1,200) in a 5-level tree 本省/局NN/部NN/課NN/係NN;
  people   --people (11,500) 試験 names, user00001@example.jp … (15% with a
           second address under m.example.jp), 1-3 prefectures each (skewed
           towards 東京都 and the big prefectures), a primary 係 each plus 0-3
           other groups; 1% are in 10-14 groups (committees, task forces);
  admins   --admins (1,000) group-admin accounts; every group has 2 admins
           (2 x groups slots dealt over the accounts in path order, so an
           account administers 2-3 neighbouring groups).

Steps and what is measured:

  1. import   POST /api/v1/people/import: dry run on the empty directory,
              the real import, and a dry run of the same file against the full
              directory (what the daily sync costs when nothing changed);
              wall time of each request (the answer carries no server figure).
  2. accounts POST /api/v1/accounts for every admin (parallel, --workers;
              each is one argon2id hash), then POST /api/v1/tokens for
              --tokens of them; wall time and per-request p50/p99.
  3. audience POST /api/v1/broadcasts/preview, --preview-runs times:
              {"regions": 5 codes, "groups": 20 ids, "subgroups": true,
              "match": "all"}; the server's elapsed_ms and the HTTP round
              trip, the count checked against the generator's own answer.
  4. answers  one drill broadcast to everyone (本省 with subgroups) into
              smtp-sink; --answer-share of the people answer through the
              public reply link in their mail (POST /r/{token}, as a phone
              would), 8 threads; checked in the database.
  5. tally    GET /api/v1/broadcasts/{id}/groups: a few single requests as
              the bootstrap token, as one group admin and as one token
              holder of every scope size (2 groups ... the whole tree), then
              wrk from a second process on loopback, -t2 -c200 -d20s by
              default, one token of a different group admin per request
              (tests/bench/scale_tally.lua), measured after a --warmup
              run (5 s) of the same load whose figures are printed beside
              it (each token's first request finds every cache cold);
              in the same command a wrk run
              against GET /healthz (no database) as the HTTP floor, and with
              --think-ms a second tally run in which every connection waits
              about that long between requests (a console refreshing).
              When the tally p99 misses the goal, the slow statements are
              captured with auto_explain (EXPLAIN ANALYZE of every nested
              statement over --explain-ms) for one group admin and printed.

Exit status: 0 when the run completed (goals met or not), 1 on errors (a
component failed, a count did not match, a timeout)."""

import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

SRC = os.environ.get("ANPI_SOURCE_ROOT") or os.path.join(HERE, "..", "..")
BUILD = os.environ.get("ANPI_BUILD_ROOT") or os.path.join(SRC, "build")
WRK = os.environ.get("ANPI_WRK", shutil.which("wrk") or "/usr/bin/wrk")
LUA = os.path.join(HERE, "scale_tally.lua")

GOAL_AUDIENCE_MS = 100.0
GOAL_TALLY_P99_MS = 50.0
TOKEN = "scale-bench-token-0123456789abcdef"
QUESTIONS = [{"id": "safety", "text": "あなたの状況を選んでください",
              "choices": ["無事", "軽傷", "重傷"]}]
CHOICE_WEIGHTS = [("無事", 70), ("軽傷", 20), ("重傷", 10)]
LEVEL_NAMES = ["本省", "局", "部", "課", "係"]
# Where people live: weights per prefecture code, skewed like staff of a
# ministry in Tokyo (the rest of the 47 weigh 1 each).
PREF_WEIGHTS = {13: 30, 14: 8, 11: 7, 12: 7, 27: 6, 23: 5, 40: 4, 1: 4, 28: 3, 22: 3}
AUDIENCE_PREFS = [13, 14, 11, 12, 27, 23, 40, 1, 28, 22, 26, 34, 4]
GIVEN = ["太郎", "花子", "一郎", "次郎", "三郎", "桜", "健", "明美", "誠", "陽子"]
GIVEN_KANA = ["たろう", "はなこ", "いちろう", "じろう", "さぶろう", "さくら", "けん", "あけみ", "まこと", "ようこ"]


class BenchError(RuntimeError):
    pass


def log(msg=""):
    print(msg, flush=True)


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(1, -(-len(v) * p // 100))   # ceil
    return v[int(k) - 1]


def ms(s):
    return s * 1000.0


# --- the synthetic directory ---------------------------------------------------

def level_sizes(n):
    """Groups per level of the 5-level tree for n groups in all: the shape
    of 1,200 (1 / 8 / 40 / 240 / 911) scaled down for small test runs."""
    a = max(2, round(n * 8 / 1200))
    b = max(a, round(n * 40 / 1200))
    c = max(b, round(n * 240 / 1200))
    leaves = n - 1 - a - b - c
    if leaves < c:
        raise BenchError("--groups %d is too small for a 5-level tree" % n)
    return [1, a, b, c, leaves]


class Directory:
    """The generated directory: groups (path, parent index, level), people
    (id, name, kana, emails, prefs, group indexes) and the CSV."""

    def __init__(self, seed, npeople, ngroups):
        rng = random.Random(seed)
        self.paths = []          # index -> path
        self.parent = []         # index -> parent index or None
        self.level = []          # index -> 0..4
        prev = [None]
        for lv, count in enumerate(level_sizes(ngroups)):
            parents = prev
            cur = []
            # the k-th group of a level goes under parent k mod len(parents),
            # so siblings are spread evenly; ±1 child per parent at most
            per_parent = {}
            for k in range(count):
                p = parents[k % len(parents)]
                per_parent.setdefault(p, 0)
                per_parent[p] += 1
                name = LEVEL_NAMES[0] if lv == 0 else "%s%02d" % (LEVEL_NAMES[lv], per_parent[p])
                path = name if p is None else self.paths[p] + "/" + name
                self.paths.append(path)
                self.parent.append(p)
                self.level.append(lv)
                cur.append(len(self.paths) - 1)
            prev = cur
        self.children = {}
        for i, p in enumerate(self.parent):
            if p is not None:
                self.children.setdefault(p, []).append(i)
        leaves = [i for i, lv in enumerate(self.level) if lv == 4]
        others = [i for i, lv in enumerate(self.level) if lv > 0]
        pref_codes = list(range(1, 48))
        pref_w = [PREF_WEIGHTS.get(c, 1) for c in pref_codes]

        self.people = []
        order = leaves[:]
        rng.shuffle(order)
        for i in range(1, npeople + 1):
            pid = "P%05d" % i
            g = GIVEN[i % len(GIVEN)]
            name = "試験 %s%d" % (g, i)
            kana = "しけん %s" % GIVEN_KANA[i % len(GIVEN)]
            emails = ["user%05d@example.jp" % i]
            if rng.random() < 0.15:
                emails.append("user%05d@m.example.jp" % i)
            nregions = rng.choices([1, 2, 3], weights=[70, 22, 8])[0]
            prefs = set()
            while len(prefs) < nregions:
                prefs.add(rng.choices(pref_codes, weights=pref_w)[0])
            # every 係 gets members: the primary group goes round the leaves
            groups = {order[(i - 1) % len(order)]}
            r = rng.random()
            if r < 0.01:
                extra = rng.randint(9, 13)       # 10-14 groups in all
            else:
                extra = rng.choices([0, 1, 2, 3], weights=[60, 25, 10, 5])[0]
            while len(groups) < 1 + extra:
                groups.add(rng.choice(others))
            self.people.append((pid, name, kana, emails, sorted(prefs), sorted(groups)))
        self.rng = rng

    def subtree(self, roots):
        out = set()
        stack = list(roots)
        while stack:
            g = stack.pop()
            if g in out:
                continue
            out.add(g)
            stack.extend(self.children.get(g, []))
        return out

    def csv(self):
        lines = ["id,name,kana,emails,regions,groups"]
        for pid, name, kana, emails, prefs, groups in self.people:
            lines.append("%s,%s,%s,%s,%s,%s" % (pid, name, kana, ";".join(emails),
                                                ";".join("%02d" % p for p in prefs),
                                                ";".join(self.paths[g] for g in groups)))
        return "\n".join(lines) + "\n"

    def audience_count(self, prefs, groups, match_all=True):
        """People in any of prefs AND (match_all) / OR in any group of the
        subtrees of groups (group indexes)."""
        sub = self.subtree(groups)
        ps = set(prefs)
        n = 0
        for _pid, _n, _k, _e, pp, gg in self.people:
            in_pref = bool(ps.intersection(pp))
            in_group = bool(sub.intersection(gg))
            if (in_pref and in_group) if match_all else (in_pref or in_group):
                n += 1
        return n

    def admin_groups(self, nadmins, per_group=2):
        """Account k -> list of group indexes.  per_group x groups slots in
        path order (the list twice), dealt in consecutive runs of 2-3, so an
        account holds neighbouring groups (a 課 and its 係) and the admins of
        one group are different accounts."""
        order = sorted(range(len(self.paths)), key=lambda i: self.paths[i])
        slots = order * per_group
        base, extra = divmod(len(slots), nadmins)
        out, pos = [], 0
        for k in range(nadmins):
            n = base + (1 if k < extra else 0)
            out.append(slots[pos:pos + n])
            pos += n
        return out


# --- HTTP --------------------------------------------------------------------

def timed(fn, *a, **kw):
    t0 = time.perf_counter()
    r = fn(*a, **kw)
    return r, time.perf_counter() - t0


def sink_files(sink):
    out = []
    for root, _dirs, names in os.walk(sink.dir):
        out.extend(os.path.join(root, n) for n in names)
    return out


def post_form(url, fields, timeout=30):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        with e:
            e.read()
            return e.code


def parallel(fn, items, workers):
    """[(item, result, seconds)] in item order; exceptions are results."""
    def one(item):
        t0 = time.perf_counter()
        try:
            r = fn(item)
        except Exception as e:  # reported per item by the caller
            r = e
        return item, r, time.perf_counter() - t0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(one, items))


# --- CPU of the processes under load -------------------------------------------

def cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_cpu_s(pg):
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


# --- wrk -----------------------------------------------------------------------

def run_wrk(url, path, tokens_file, threads, conns, duration, timeout_s, think_ms=0):
    argv = [WRK, "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "--latency",
            "--timeout", "%ds" % timeout_s, "-s", LUA, url, "--", tokens_file, path, str(threads)]
    env = dict(os.environ)
    env.pop("SCALE_THINK_MS", None)
    if think_ms:
        env["SCALE_THINK_MS"] = str(think_ms)
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=duration + 60, env=env)
    out = res.stdout.decode(errors="replace")
    if res.returncode != 0:
        raise BenchError("wrk failed (exit %d): %s\n%s" % (res.returncode, " ".join(argv), out))
    m = re.search(r"^SCALE_JSON (\{.*\})$", out, re.M)
    if not m:
        raise BenchError("wrk printed no SCALE_JSON line:\n" + out)
    j = json.loads(m.group(1))
    j["rps"] = j["requests"] / (j["duration_us"] / 1e6)
    j["argv"] = (["SCALE_THINK_MS=%d" % think_ms] if think_ms else []) + argv
    j["output"] = out
    return j


def plan_excerpt(entry, limit):
    """An auto_explain log entry shortened: its first line, the start of the
    query text, then the plan itself (from the first node with actual
    times), up to limit characters."""
    lines = entry.split("\n")
    start = next((i for i, ln in enumerate(lines) if "(actual time=" in ln or "(never executed)" in ln), len(lines))
    head = "\n".join(lines[:min(start, 6)])
    plan = "\n".join(lines[start:])
    return (head + ("\n\t[...]\n" if start > 6 else "\n") + plan)[:limit]


def tally_p99_ms(j):
    """p99 in ms, or infinity when wrk saw no answer or any non-2xx answer
    or socket error (a fast 404 must not pass for a fast tally)."""
    non2xx = sum(n for code, n in j["statuses"].items() if not code.startswith("2"))
    e = j["errors"]
    if j["requests"] == 0 or non2xx or e["connect"] + e["read"] + e["write"] + e["timeout"]:
        return float("inf")
    return j["latency_us"]["p99"] / 1000


def wrk_line(label, j):
    lat = j["latency_us"]
    non2xx = sum(n for code, n in j["statuses"].items() if not code.startswith("2"))
    e = j["errors"]
    return ("| %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |"
            % (label, "{:,}".format(j["requests"]), lat["p50"] / 1000, lat["p90"] / 1000,
               lat["p99"] / 1000, lat["max"] / 1000, "{:,.0f}".format(j["rps"]),
               "%d non-2xx, %d socket errors" % (non2xx, e["connect"] + e["read"] + e["write"] + e["timeout"])))


# --- the run -----------------------------------------------------------------------

class Scale:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.fig = {"args": vars(args)}
        self.notes = []

    def note(self, msg):
        self.notes.append(msg)
        log("NOTE: " + msg)

    # 1 -------------------------------------------------------------------------
    def import_directory(self):
        a = self.a
        t0 = time.perf_counter()
        self.d = Directory(a.seed, a.people, a.groups)
        csv = self.d.csv().encode()
        gen_s = time.perf_counter() - t0
        memberships = sum(len(p[5]) for p in self.d.people)
        addrs = sum(len(p[3]) for p in self.d.people)
        self.naddrs = addrs
        log("directory: %d people, %d groups (levels %s), %d memberships (max %d per person), "
            "%d addresses, CSV %.1f MB, generated in %.2f s"
            % (len(self.d.people), len(self.d.paths), level_sizes(a.groups), memberships,
               max(len(p[5]) for p in self.d.people), addrs, len(csv) / 1e6, gen_s))
        self.fig["directory"] = {"people": len(self.d.people), "groups": len(self.d.paths),
                                 "levels": level_sizes(a.groups), "memberships": memberships,
                                 "addresses": addrs, "csv_bytes": len(csv)}
        api = harness.Api(self.anpid.admin_url, TOKEN, timeout=600)
        out = {}
        for label, path in (("dry run, empty directory", "/api/v1/people/import?dry_run=1"),
                            ("import", "/api/v1/people/import"),
                            ("dry run, nothing changed", "/api/v1/people/import?dry_run=1")):
            (s, j), dt = timed(api.post, path, body=csv, content_type="text/csv")
            if s != 200:
                raise BenchError("%s: HTTP %s %s" % (label, s, str(j)[:600]))
            summary = {k: (len(j[k]) if isinstance(j.get(k), list) else j.get(k))
                       for k in ("rows", "added", "changed", "removed", "unchanged")}
            server = j.get("elapsed_ms")
            log("  %-26s %7.2f s  %s%s" % (label, dt, summary,
                                          "  (server %s ms)" % server if server is not None else ""))
            out[label] = {"wall_s": dt, "server_ms": server, **summary}
        if out["import"]["added"] != len(self.d.people):
            raise BenchError("the import added %s people, not %d" % (out["import"]["added"], len(self.d.people)))
        n = int(self.pg.psql("SELECT count(*) FROM groups"))
        if n != len(self.d.paths):
            raise BenchError("%d groups in the database, %d generated" % (n, len(self.d.paths)))
        self.fig["import"] = out
        self.gid = {}
        for line in self.pg.psql("SELECT id, path FROM groups").split("\n"):
            i, p = line.split("|", 1)
            self.gid[p] = int(i)

    def groups_tree(self):
        """GET /api/v1/groups once, last (a slow one must not load the
        database during the other steps); cancelled after --tree-timeout."""
        a = self.a
        try:
            (s, _j), dt = timed(harness.Api(self.anpid.admin_url, TOKEN, timeout=a.tree_timeout).get,
                                "/api/v1/groups")
            log("GET /api/v1/groups (the whole tree with member counts, bootstrap): HTTP %s in %.2f s" % (s, dt))
            self.fig["groups_tree_s"] = dt
        except OSError:
            self.pg.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE state = 'active' "
                         "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
            self.note("GET /api/v1/groups (the whole tree, bootstrap) did not answer within %d s; cancelled"
                      % a.tree_timeout)
            self.fig["groups_tree_s"] = None

    # 2 -------------------------------------------------------------------------
    def accounts(self):
        a = self.a
        api = harness.Api(self.anpid.admin_url, TOKEN, timeout=120)
        rng = random.Random(a.seed + 1)
        assign = self.d.admin_groups(a.admins)
        self.accs = []
        for k, groups in enumerate(assign):
            login = "gadmin%04d" % (k + 1)
            pw = "Sb-%s-%dQ" % ("".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(14)), k)
            self.accs.append({"login": login, "password": pw, "role": "group-admin", "must_change": False,
                              "groups": [self.gid[self.d.paths[g]] for g in groups],
                              "group_idx": groups})
        s, j = api.post("/api/v1/accounts", body={k: v for k, v in self.accs[0].items() if k != "group_idx"})
        if s not in (200, 201):
            raise BenchError("POST /api/v1/accounts: HTTP %s %s" % (s, str(j)[:400]))

        def create(acc):
            st, body = api.post("/api/v1/accounts",
                                body={k: v for k, v in acc.items() if k != "group_idx"})
            if st not in (200, 201):
                raise BenchError("account %s: HTTP %s %s" % (acc["login"], st, str(body)[:300]))
            return st
        t0 = time.perf_counter()
        res = parallel(create, self.accs[1:], a.workers)
        wall = time.perf_counter() - t0
        errs = [r for _i, r, _t in res if isinstance(r, Exception)]
        if errs:
            raise BenchError("%d accounts failed, first: %s" % (len(errs), errs[0]))
        lat = [t for _i, _r, t in res]
        log("accounts: %d group-admin accounts (%d group slots) in %.1f s with %d threads "
            "(%.1f/s; per request p50 %.0f ms, p99 %.0f ms)"
            % (len(self.accs), sum(len(x["groups"]) for x in self.accs), wall, a.workers,
               len(res) / wall, ms(pct(lat, 50)), ms(pct(lat, 99))))
        per_group = self.pg.psql("SELECT min(n), max(n) FROM (SELECT g.id, count(ag.account_id) n FROM groups g "
                                 "LEFT JOIN account_groups ag ON ag.group_id = g.id GROUP BY g.id) x")
        log("  admins per group (min|max): %s" % per_group)
        self.fig["accounts"] = {"n": len(self.accs), "wall_s": wall, "workers": a.workers,
                                "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99)),
                                "admins_per_group_min_max": per_group}

        # tokens for every (admins/tokens)-th account
        step = max(1, len(self.accs) // a.tokens)
        chosen = self.accs[::step][:a.tokens]
        anon = harness.Api(self.anpid.admin_url, None, timeout=120)
        s, j = anon.post("/api/v1/tokens", body={"login": chosen[0]["login"], "password": chosen[0]["password"]})
        tok_api = anon
        if s in (401, 403):
            tok_api = api
            s, j = api.post("/api/v1/tokens", body={"login": chosen[0]["login"], "password": chosen[0]["password"]})
        if s not in (200, 201) or not isinstance(j, dict) or not j.get("token"):
            raise BenchError("POST /api/v1/tokens: HTTP %s %s" % (s, str(j)[:400]))
        chosen[0]["token"] = j["token"]

        def token(acc):
            st, body = tok_api.post("/api/v1/tokens", body={"login": acc["login"], "password": acc["password"]})
            if st not in (200, 201) or not body.get("token"):
                raise BenchError("token for %s: HTTP %s %s" % (acc["login"], st, str(body)[:300]))
            acc["token"] = body["token"]
        t0 = time.perf_counter()
        res = parallel(token, chosen[1:], a.workers)
        wall = time.perf_counter() - t0
        errs = [r for _i, r, _t in res if isinstance(r, Exception)]
        if errs:
            raise BenchError("%d tokens failed, first: %s" % (len(errs), errs[0]))
        lat = [t for _i, _r, t in res]
        self.tokens = chosen
        log("tokens: %d (one per account) in %.1f s (per request p50 %.0f ms, p99 %.0f ms)"
            % (len(chosen), wall, ms(pct(lat, 50)), ms(pct(lat, 99))))
        self.fig["tokens"] = {"n": len(chosen), "wall_s": wall, "p50_ms": ms(pct(lat, 50)),
                              "p99_ms": ms(pct(lat, 99))}

    # 3 -------------------------------------------------------------------------
    def audience(self):
        a = self.a
        rng = random.Random(a.seed + 2)
        prefs = sorted(rng.sample(AUDIENCE_PREFS, 5))
        mid = [i for i, lv in enumerate(self.d.level) if lv in (2, 3)]
        groups = sorted(rng.sample(mid, 20))
        expect = self.d.audience_count(prefs, groups, True)
        union = self.d.audience_count(prefs, groups, False)
        sub = self.d.subtree(groups)
        log("audience: regions %s, 20 groups (%d groups with their subgroups): expected %d people "
            "(regions AND groups; %d with OR)" % (["%02d" % p for p in prefs], len(sub), expect, union))
        aud = {"regions": ["%02d" % p for p in prefs], "groups": [self.gid[self.d.paths[g]] for g in groups],
               "subgroups": True, "match": "all"}
        api = harness.Api(self.anpid.admin_url, TOKEN, timeout=60)
        body = {"audience": aud}
        s, j = api.post("/api/v1/broadcasts/preview", body=body)
        self.fig["audience"] = {"regions": aud["regions"], "groups": [self.d.paths[g] for g in groups],
                                "expected": expect, "expected_or": union}
        if s != 200 or not isinstance(j, dict):
            raise BenchError("preview: HTTP %s %s" % (s, str(j)[:400]))
        got = j.get("recipients")
        count = got if isinstance(got, int) else (len(got) if isinstance(got, list) else None)
        server, rtt = [], []
        for _ in range(a.preview_runs):
            (s, j), dt = timed(api.post, "/api/v1/broadcasts/preview", body=body)
            if s != 200:
                raise BenchError("preview: HTTP %s %s" % (s, str(j)[:400]))
            rtt.append(ms(dt))
            if j.get("elapsed_ms") is not None:
                server.append(float(j["elapsed_ms"]))
        f = self.fig["audience"]
        f.update({"recipients": count, "match": count == expect, "runs": a.preview_runs,
                  "rtt_p50_ms": pct(rtt, 50), "rtt_p99_ms": pct(rtt, 99)})
        if server:
            f.update({"server_p50_ms": pct(server, 50), "server_p99_ms": pct(server, 99),
                      "server_max_ms": max(server)})
        log("  preview: %s recipients (%s); %d runs: server p50 %s / p99 %s ms, round trip p50 %.1f / p99 %.1f ms"
            % (count, "matches" if count == expect else "MISMATCH, expected %d" % expect, a.preview_runs,
               "%.1f" % f["server_p50_ms"] if server else "-", "%.1f" % f["server_p99_ms"] if server else "-",
               f["rtt_p50_ms"], f["rtt_p99_ms"]))
        if count != expect:
            raise BenchError("preview counted %s recipients, the generator %d" % (count, expect))

    # 4 -------------------------------------------------------------------------
    def broadcast_and_answers(self):
        a = self.a
        api = harness.Api(self.anpid.admin_url, TOKEN, timeout=600)
        doc = {"subject": "試験 規模ベンチ 安否確認", "body": "{{person.name}} さん\n安否を回答してください。\n{{reply_url}}\n",
               "questions": QUESTIONS, "audience": {"groups": [self.gid[self.d.paths[0]]], "subgroups": True},
               "drill": True, "by": "試験 管理者"}
        (s, j), dt = timed(api.post, "/api/v1/broadcasts", body=doc)
        if s != 201:
            raise BenchError("compose: HTTP %s %s" % (s, str(j)[:400]))
        self.bid = int(j["id"])
        log("broadcast %d (drill) to everyone: %s recipients, %s deliveries, composed in %.2f s"
            % (self.bid, j.get("recipients"), j.get("deliveries"), dt))
        if j.get("recipients") != len(self.d.people):
            raise BenchError("the broadcast reaches %s people, not %d" % (j.get("recipients"), len(self.d.people)))
        t0 = time.perf_counter()
        harness.wait_for(lambda: len(sink_files(self.sink)) >= self.naddrs, a.mail_timeout, 0.5,
                         "%d mails in smtp-sink" % self.naddrs)
        fan = time.perf_counter() - t0 + dt
        log("  %d mails in smtp-sink %.1f s after the POST" % (self.naddrs, fan))
        self.fig["broadcast"] = {"id": self.bid, "recipients": j.get("recipients"), "compose_s": dt,
                                 "mails": self.naddrs, "all_mailed_s": fan}

        # who answers: a seeded share of the people, by their first address
        rng = random.Random(a.seed + 3)
        answering = rng.sample(range(len(self.d.people)), int(len(self.d.people) * a.answer_share))
        want = {self.d.people[i][3][0]: i for i in answering}
        links = {}
        rcpt_re = re.compile(rb"^X-Rcpt-Args:\s*<([^>]*)>", re.M)
        link_re = re.compile(r"https?://[0-9.:]+/r/[A-Za-z0-9_-]+")
        import email
        import email.policy
        for path in sink_files(self.sink):
            with open(path, "rb") as f:
                raw = f.read()
            m = rcpt_re.search(raw[:4096])
            if not m or m.group(1).decode() not in want:
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain",))
            lm = link_re.search(body.get_content() if body else "")
            if lm:
                links[m.group(1).decode()] = lm.group(0).replace("https://", "http://", 1)
        if len(links) != len(want):
            raise BenchError("found %d reply links for %d answering people" % (len(links), len(want)))
        choices = [c for c, _w in CHOICE_WEIGHTS]
        weights = [w for _c, w in CHOICE_WEIGHTS]
        plan = sorted((addr, url, rng.choices(choices, weights=weights)[0]) for addr, url in links.items())

        def answer(item):
            st = post_form(item[1], {"safety": item[2]})
            if st not in (200, 303):
                raise BenchError("reply %s: HTTP %s" % (item[1], st))
        t0 = time.perf_counter()
        res = parallel(answer, plan, 8)
        wall = time.perf_counter() - t0
        errs = [r for _i, r, _t in res if isinstance(r, Exception)]
        if errs:
            raise BenchError("%d replies failed, first: %s" % (len(errs), errs[0]))
        lat = [t for _i, _r, t in res]
        answered = int(self.pg.psql("SELECT count(*) FROM recipients WHERE broadcast_id = %d "
                                    "AND answered_at IS NOT NULL" % self.bid))
        log("answers: %d people (%.0f%%) through their reply links (POST /r/{token}, 8 threads) in %.1f s "
            "(%.0f/s; p50 %.0f ms, p99 %.0f ms); answered in the database: %d"
            % (len(plan), 100 * a.answer_share, wall, len(plan) / wall, ms(pct(lat, 50)), ms(pct(lat, 99)), answered))
        if answered != len(plan):
            raise BenchError("%d answered in the database, %d replies sent" % (answered, len(plan)))
        self.answered = answered
        self.fig["answers"] = {"n": len(plan), "via": "public reply links (POST /r/{token})",
                               "wall_s": wall, "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99))}

    # 5 -------------------------------------------------------------------------
    def tally(self):
        a = self.a
        path = "/api/v1/broadcasts/%d/groups" % self.bid
        api = harness.Api(self.anpid.admin_url, TOKEN, timeout=120)
        times = []
        for _ in range(5):
            (s, j), dt = timed(api.get, path)
            if s != 200:
                raise BenchError("tally as bootstrap: HTTP %s %s" % (s, str(j)[:300]))
            times.append(ms(dt))
            if ms(dt) > a.max_single_ms:
                break          # one is enough to know it is slow
        root = [g for g in j.get("groups", []) if g.get("path") == self.d.paths[0]]
        if not root or root[0].get("answered") != self.answered:
            raise BenchError("the bootstrap tally's root group shows %s answered, not %d"
                             % (root[0].get("answered") if root else None, self.answered))
        log("tally as the bootstrap token (all %d groups): %d requests p50 %.0f ms, max %.0f ms; root answered %d"
            % (len(j["groups"]), len(times), pct(times, 50), max(times), self.answered))
        self.fig["tally_single"] = {"bootstrap_groups": len(j["groups"]), "bootstrap_p50_ms": pct(times, 50),
                                    "bootstrap_max_ms": max(times)}
        tokens_file = os.path.join(self.tmp, "tokens.txt")
        if self.tokens:
            acc = self.tokens[len(self.tokens) // 2]
            ga = harness.Api(self.anpid.admin_url, acc["token"], timeout=60)
            times = []
            for _ in range(5):
                (s, j), dt = timed(ga.get, path)
                if s != 200:
                    raise BenchError("tally as %s: HTTP %s %s" % (acc["login"], s, str(j)[:300]))
                times.append(ms(dt))
                if ms(dt) > a.max_single_ms:
                    break
            mine = self.d.subtree(acc["group_idx"])
            got = {g.get("path") for g in j.get("groups", []) if g.get("path")}
            want = {self.d.paths[g] for g in mine}
            log("tally as %s (groups %s; %d with subgroups): %d groups returned, %d requests p50 %.0f ms, max %.0f ms"
                % (acc["login"], [self.d.paths[g] for g in acc["group_idx"]], len(mine), len(got),
                   len(times), pct(times, 50), max(times)))
            if not got <= want | {self.d.paths[p] for g in mine for p in self.ancestors(g)}:
                self.note("the tally of %s shows groups outside its scope: %s"
                          % (acc["login"], sorted(got - want)[:5]))
            self.fig["tally_single"].update({"admin": acc["login"], "admin_groups": len(got),
                                             "admin_p50_ms": pct(times, 50), "admin_max_ms": max(times)})
            # one account of every scope size among the token holders: what
            # a request costs from 2 groups up to the whole tree
            by_size = {}
            for t in self.tokens:
                by_size.setdefault(len(self.d.subtree(t["group_idx"])), t)
            scopes = []
            for size in sorted(by_size):
                t = by_size[size]
                api_t = harness.Api(self.anpid.admin_url, t["token"], timeout=60)
                times = []
                for _ in range(5):
                    (s, j), dt = timed(api_t.get, path)
                    if s != 200:
                        raise BenchError("tally as %s: HTTP %s %s" % (t["login"], s, str(j)[:300]))
                    times.append(ms(dt))
                holders = sum(1 for x in self.tokens if len(self.d.subtree(x["group_idx"])) == size)
                scopes.append({"groups": size, "holders": holders, "login": t["login"],
                               "recipients": max((g.get("recipients", 0) for g in j.get("groups", [])), default=0),
                               "p50_ms": pct(times, 50), "max_ms": max(times)})
                log("tally as %s (%d groups with subgroups, %d of the token holders alike): p50 %.1f ms, max %.1f ms"
                    % (t["login"], size, holders, pct(times, 50), max(times)))
            self.fig["tally_by_scope"] = scopes
            with open(tokens_file, "w") as f:
                f.write("".join(t["token"] + "\n" for t in self.tokens))
            label = "tally, %d group-admin tokens" % len(self.tokens)
        else:
            with open(tokens_file, "w") as f:
                f.write(TOKEN + "\n")
            label = "tally, bootstrap token (no accounts endpoint)"

        url = self.anpid.admin_url
        single = self.fig["tally_single"].get("admin_p50_ms", self.fig["tally_single"]["bootstrap_p50_ms"])
        if single > a.max_single_ms and not a.force_wrk:
            # 200 connections against a query of seconds would queue work
            # in anpid for minutes after wrk gave up: measure the plan instead
            self.note("one tally request takes %.0f ms (over --max-single-ms %d): wrk skipped, "
                      "EXPLAIN ANALYZE instead (--force-wrk runs it anyway)" % (single, a.max_single_ms))
            self.fig["wrk"] = None
            self.wrk_label = label
            self.explain(path)
            return
        floor = run_wrk(url, "/healthz", "-", a.threads, a.connections, a.duration, a.wrk_timeout)
        # the same sessions for --warmup seconds first: every token's first
        # request finds the caches cold (credential, group set, count) and
        # waits for the database; the measured run is the load that follows,
        # the warm-up's own figures are reported beside it
        warm = None
        if a.warmup > 0:
            warm = run_wrk(url, path, tokens_file, a.threads, a.connections, a.warmup, a.wrk_timeout)
            log("wrk, the warm-up (%d s, cold caches at its start):\n%s" % (a.warmup, warm["output"]))
        activity = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    out = self.pg.psql("SELECT query FROM pg_stat_activity WHERE state = 'active' "
                                       "AND query NOT LIKE '%pg_stat_activity%'", timeout=5)
                    activity.extend(q for q in out.split("\n") if q)
                except harness.HarnessError:
                    pass
                stop.wait(0.5)
        sampler = threading.Thread(target=sample, daemon=True)
        c0 = (cpu_s(self.anpid.proc.pid), pg_cpu_s(self.pg))
        sampler.start()
        tally = run_wrk(url, path, tokens_file, a.threads, a.connections, a.duration, a.wrk_timeout)
        stop.set()
        sampler.join()
        c1 = (cpu_s(self.anpid.proc.pid), pg_cpu_s(self.pg))
        self.fig["wrk"] = {"healthz": {k: v for k, v in floor.items() if k != "output"},
                           "tally": {k: v for k, v in tally.items() if k != "output"},
                           "label": label, "cpu_anpid_s": c1[0] - c0[0], "cpu_pg_s": c1[1] - c0[1]}
        if warm:
            self.fig["wrk"]["tally_warmup"] = {k: v for k, v in warm.items() if k != "output"}
        log("")
        log("wrk, the tally run:\n" + tally["output"])
        counts = {}
        for q in activity:
            q = " ".join(q.split())[:160]
            counts[q] = counts.get(q, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
        self.fig["wrk"]["active_statements"] = top
        log("statements seen active during the tally run (samples every 0.5 s):")
        for q, n in top:
            log("  %4d  %s" % (n, q))
        log("CPU during the tally run: anpid %.1f s, PostgreSQL %.1f s over %d s"
            % (c1[0] - c0[0], c1[1] - c0[1], a.duration))
        self.wrk_label = label
        if a.think_ms:
            # the same sessions, each asking again only after a think time
            # (a console refreshing the tally) instead of at once
            think = run_wrk(url, path, tokens_file, a.threads, a.connections, a.duration, a.wrk_timeout,
                            think_ms=a.think_ms)
            self.fig["wrk"]["tally_think"] = {k: v for k, v in think.items() if k != "output"}
            log("wrk, the tally run with %d ms think time per connection:\n%s" % (a.think_ms, think["output"]))
        if tally_p99_ms(tally) >= GOAL_TALLY_P99_MS or a.explain:
            self.explain(path)

    def ancestors(self, g):
        out = []
        while self.d.parent[g] is not None:
            g = self.d.parent[g]
            out.append(g)
        return out

    def explain(self, path):
        """EXPLAIN ANALYZE of the statements behind one tally request, from
        auto_explain in anpid's own sessions (nested statements included, so
        the plans inside the SQL functions show)."""
        pg = self.pg
        # ALTER SYSTEM refuses auto_explain.* before the module is loaded in
        # that session, so the settings go into the cluster's config file
        conf = os.path.join(pg.datadir, "postgresql.conf")
        with open(conf, "r", encoding="utf-8") as f:
            saved = f.read()
        with open(conf, "a", encoding="utf-8") as f:
            f.write("\n# scale.py\nsession_preload_libraries = 'auto_explain'\n"
                    "auto_explain.log_min_duration = '%dms'\nauto_explain.log_analyze = on\n"
                    "auto_explain.log_buffers = on\nauto_explain.log_nested_statements = on\n"
                    % self.a.explain_ms)
        pg.psql("SELECT pg_reload_conf()")
        self.anpid.restart()          # new database sessions load auto_explain
        mark = os.path.getsize(pg.logfile)
        tok = self.tokens[len(self.tokens) // 2]["token"] if self.tokens else TOKEN
        api = harness.Api(self.anpid.admin_url, tok, timeout=900)
        api.get(path)             # one request: every nested statement is logged
        time.sleep(0.5)
        with open(pg.logfile, "r", errors="replace") as f:
            f.seek(mark)
            text = f.read()
        with open(conf, "w", encoding="utf-8") as f:
            f.write(saved)
        pg.psql("SELECT pg_reload_conf()")
        plans = re.split(r"\n(?=\S.*LOG:\s+duration:)", text)
        # the dispatcher's own timers run meanwhile: keep the request's statements
        noise = ("anpi_claim", "anpi_tick", "anpi_deliveries", "anpi_node", "pg_notify", "LISTEN")
        plans = [p for p in plans if "duration:" in p and "plan:" in p and not any(n in p for n in noise)]
        def dur(p):
            m = re.search(r"duration: ([0-9.]+) ms", p)
            return float(m.group(1)) if m else 0.0
        plans.sort(key=dur, reverse=True)
        self.fig["explain"] = plans[:3]
        log("")
        log("auto_explain (statements over %d ms in one tally request as %s; slowest first):"
            % (self.a.explain_ms, self.tokens[len(self.tokens) // 2]["login"] if self.tokens else "bootstrap"))
        if not plans:
            log("  (none over %d ms)" % self.a.explain_ms)
        for p in plans[:3]:
            log(plan_excerpt(p, self.a.explain_chars))
            log("  ...")

    def hold(self):
        """--hold: keep PostgreSQL and anpid up with the whole data set, for
        EXPLAIN and trials by hand, until the hold file is removed or the
        time is up (the run's figures are printed afterwards)."""
        flag = os.path.join(self.tmp, "hold")
        tokens_file = os.path.join(self.tmp, "tokens.txt")
        with open(flag, "w", encoding="utf-8") as f:
            f.write("psql '%s'\nanpid %s\nbootstrap token %s\nbroadcast %d\ntokens %s\n"
                    % (self.pg.conninfo, self.anpid.admin_url, TOKEN, self.bid, tokens_file))
        log("holding for up to %d s (rm %s to go on):" % (self.a.hold, flag))
        with open(flag, encoding="utf-8") as f:
            log(f.read())
        end = time.monotonic() + self.a.hold
        while os.path.exists(flag) and time.monotonic() < end:
            time.sleep(1)

    # ---------------------------------------------------------------------------
    def summary(self):
        f = self.fig
        log("")
        log("=" * 78)
        log("machine: %d CPUs, load average at the end %s" % (os.cpu_count(), os.getloadavg()))
        d = f["directory"]
        log("directory: %s people, %s groups (levels %s), %s memberships, %s addresses"
            % ("{:,}".format(d["people"]), "{:,}".format(d["groups"]), d["levels"],
               "{:,}".format(d["memberships"]), "{:,}".format(d["addresses"])))
        log("")
        log("| step | figure |")
        log("|---|---|")
        for label, v in f["import"].items():
            log("| import: %s | %.2f s (%s rows, %s added, %s changed, %s unchanged) |"
                % (label, v["wall_s"], v["rows"], v["added"], v["changed"], v["unchanged"]))
        if "accounts" in f:
            v = f["accounts"]
            log("| %d group-admin accounts (POST /api/v1/accounts, %d threads) | %.1f s (p50 %.0f ms, p99 %.0f ms per request) |"
                % (v["n"], v["workers"], v["wall_s"], v["p50_ms"], v["p99_ms"]))
            v = f["tokens"]
            log("| %d API tokens (POST /api/v1/tokens) | %.1f s (p50 %.0f ms, p99 %.0f ms) |"
                % (v["n"], v["wall_s"], v["p50_ms"], v["p99_ms"]))
        v = f["audience"]
        if "rtt_p50_ms" in v:
            log("| audience preview, %d runs: server elapsed_ms | p50 %s, p99 %s ms |"
                % (v["runs"], "%.1f" % v["server_p50_ms"] if "server_p50_ms" in v else "-",
                   "%.1f" % v["server_p99_ms"] if "server_p99_ms" in v else "-"))
            log("| audience preview: HTTP round trip | p50 %.1f, p99 %.1f ms (%d recipients, checked) |"
                % (v["rtt_p50_ms"], v["rtt_p99_ms"], v["recipients"]))
        if "groups_tree_s" in f:
            log("| GET /api/v1/groups (whole tree, bootstrap) | %s |"
                % ("%.2f s" % f["groups_tree_s"] if f["groups_tree_s"] is not None
                   else "no answer within %d s" % self.a.tree_timeout))
        v = f["answers"]
        log("| %d answers via reply links (8 threads) | %.1f s |" % (v["n"], v["wall_s"]))
        v = f["tally_single"]
        log("| tally, one request, bootstrap (%d groups) | p50 %.0f ms |" % (v["bootstrap_groups"], v["bootstrap_p50_ms"]))
        if "admin_p50_ms" in v:
            log("| tally, one request, %s (%d groups) | p50 %.0f ms |" % (v["admin"], v["admin_groups"], v["admin_p50_ms"]))
        for sc in f.get("tally_by_scope", []):
            log("| tally, 5 requests, %s: %s groups, %s recipients in its largest (%d of %d tokens alike) "
                "| p50 %.1f ms, max %.1f ms |"
                % (sc["login"], "{:,}".format(sc["groups"]), "{:,}".format(sc["recipients"]), sc["holders"],
                   len(self.tokens), sc["p50_ms"], sc["max_ms"]))
        log("")
        w = f["wrk"]
        if w is None:
            log("wrk: not run (one tally request took longer than --max-single-ms)")
            log("goal tally p99 < %.0f ms: NOT met (a single request: %s)" % (GOAL_TALLY_P99_MS, f["tally_single"]))
            for n in self.notes:
                log("note: " + n)
            return
        log("wrk -t%d -c%d -d%ds --latency (ms):" % (self.a.threads, self.a.connections, self.a.duration))
        log("| run | requests | p50 | p90 | p99 | max | requests/s | errors |")
        log("|---|---|---|---|---|---|---|---|")
        log(wrk_line("GET /healthz (floor)", w["healthz"]))
        if "tally_warmup" in w:
            log(wrk_line("%s, the %d s warm-up (cold caches at its start)" % (w["label"], self.a.warmup),
                         w["tally_warmup"]))
        log(wrk_line(w["label"], w["tally"]))
        if "tally_think" in w:
            log(wrk_line("%s, %d ms think time" % (w["label"], self.a.think_ms), w["tally_think"]))
        log("")
        if "server_p99_ms" in f["audience"]:
            v = f["audience"]["server_p99_ms"]
            log("goal audience resolution < %.0f ms: %s (server p99 %.1f ms)"
                % (GOAL_AUDIENCE_MS, "met" if v < GOAL_AUDIENCE_MS else "NOT met", v))
        else:
            log("goal audience resolution < %.0f ms: not measured (no preview endpoint)" % GOAL_AUDIENCE_MS)
        p99 = tally_p99_ms(w["tally"])
        log("goal tally p99 < %.0f ms under %d connections: %s (p99 %s, %s)"
            % (GOAL_TALLY_P99_MS, self.a.connections, "met" if p99 < GOAL_TALLY_P99_MS else "NOT met",
               "%.1f ms" % p99 if p99 != float("inf") else "none: no request answered 2xx",
               w["label"]))
        if "tally_think" in w:
            p99 = tally_p99_ms(w["tally_think"])
            log("tally p99 with %d ms think time per connection (%.0f requests/s offered at most): %s (p99 %s)"
                % (self.a.think_ms, self.a.connections * 1000.0 / self.a.think_ms,
                   "under the goal" if p99 < GOAL_TALLY_P99_MS else "over the goal",
                   "%.1f ms" % p99 if p99 != float("inf") else "none: not every request answered 2xx"))
        for n in self.notes:
            log("note: " + n)

    def run(self):
        a = self.a
        if not os.access(WRK, os.X_OK):
            raise BenchError("no wrk at %s (apt-get install wrk)" % WRK)
        with harness.PgCluster(self.tmp) as pg, harness.SmtpSink(self.tmp) as sink:
            self.pg, self.sink = pg, sink
            cfg = harness.base_config(pg, sink, token=TOKEN)
            cfg["log"] = {"level": "warn"}
            if a.db_pool:
                cfg["database"]["pool"] = a.db_pool
            self.anpid = harness.Anpid(BUILD, cfg, os.path.join(self.tmp, "anpid"), timeout=60)
            try:
                self.import_directory()
                self.accounts()
                self.audience()
                self.broadcast_and_answers()
                self.tally()
                self.groups_tree()
                if a.hold:
                    self.hold()
            finally:
                self.anpid.stop()
            self.summary()
        if a.json:
            with open(a.json, "w", encoding="utf-8") as f:
                json.dump(self.fig, f, ensure_ascii=False, indent=1, default=str)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--people", type=int, default=11500)
    ap.add_argument("--groups", type=int, default=1200)
    ap.add_argument("--admins", type=int, default=1000)
    ap.add_argument("--tokens", type=int, default=200, help="accounts that get a token for the wrk run")
    ap.add_argument("--workers", type=int, default=8, help="threads creating accounts and tokens")
    ap.add_argument("--preview-runs", type=int, default=30)
    ap.add_argument("--answer-share", type=float, default=0.4)
    ap.add_argument("--threads", type=int, default=2, help="wrk -t")
    ap.add_argument("--connections", type=int, default=200, help="wrk -c")
    ap.add_argument("--duration", type=int, default=20, help="wrk -d (seconds)")
    ap.add_argument("--warmup", type=int, default=5,
                    help="seconds of the same tally load before the measured run (0: none)")
    ap.add_argument("--think-ms", type=int, default=0,
                    help="also run wrk with this think time per connection between requests (0: not)")
    ap.add_argument("--wrk-timeout", type=int, default=10, help="wrk --timeout (seconds)")
    ap.add_argument("--db-pool", type=int, default=0, help="database.pool of anpid (0: anpid's default)")
    ap.add_argument("--tree-timeout", type=int, default=60, help="for GET /api/v1/groups")
    ap.add_argument("--mail-timeout", type=float, default=600)
    ap.add_argument("--max-single-ms", type=int, default=2000,
                    help="skip wrk when one tally request is slower than this")
    ap.add_argument("--force-wrk", action="store_true")
    ap.add_argument("--explain", action="store_true", help="print auto_explain plans even when the goal is met")
    ap.add_argument("--explain-ms", type=int, default=5)
    ap.add_argument("--explain-chars", type=int, default=6000)
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--hold", type=int, default=0, metavar="SECONDS",
                    help="after the run, keep PostgreSQL and anpid up this long for trials by hand")
    args = ap.parse_args()
    # a plain kill must still stop PostgreSQL, smtp-sink and anpid (the
    # harness stops them at interpreter exit, which SIGTERM would skip)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix="anpi-scale-")
    try:
        Scale(args, tmp).run()
    except (BenchError, harness.HarnessError) as e:
        log("ERROR: %s" % e)
        return 1
    finally:
        if args.keep:
            log("work directory kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
