#!/usr/bin/env python3
"""meson-failures.py BUILD_DIR - name the tests of BUILD_DIR's last `meson
test` run that did not pass, each with its failed TAP lines and the end of
its output.

test-all.sh prints this after the summary line: CI shows only the tail of
a run, and a failure scrolled out of it cannot be diagnosed from there.
Prints nothing when every test passed (or no run left a log)."""
import json
import os
import sys

TAIL = 25     # lines of a failed test's output shown
NOT_OK = 10   # "not ok" lines shown per test

def main():
    if len(sys.argv) != 2:
        sys.exit("usage: meson-failures.py BUILD_DIR")
    path = os.path.join(sys.argv[1], "meson-logs", "testlog.json")
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            t = json.loads(line)
        except ValueError:
            continue
        if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
            continue
        out = (t.get("stdout") or "").splitlines()
        print("--- %s: %s %s (exit %s, %.1f s)" % (os.path.basename(sys.argv[1].rstrip("/")), t.get("name"),
                                               t.get("result"), t.get("returncode"), t.get("duration") or 0))
        failed = [l for l in out if l.startswith("not ok")]
        for l in failed[:NOT_OK]:
            print("  " + l)
        if len(failed) > NOT_OK:
            print("  ... %d more failed checks" % (len(failed) - NOT_OK))
        print("  last %d lines of its output:" % TAIL)
        for l in out[-TAIL:]:
            print("  | " + l[:300])
        # meson keeps stderr apart: sanitizer reports, cmocka's messages
        err = (t.get("stderr") or "").splitlines()
        if err:
            print("  last %d lines of its stderr:" % TAIL)
            for l in err[-TAIL:]:
                print("  ! " + l[:300])

if __name__ == "__main__":
    main()
