#!/usr/bin/python3
"""smtp_throttle.py - throttle check: one domain limited to RATE msg/s, the
others unlimited, all through one smtp-sink on loopback.  Passes when the
limited domain's observed rate (first to last acceptance) is within 5% of
RATE and the unlimited domains finished long before the limited one (they
are not slowed down by it).

    tests/bench/smtp_throttle.py BUILD_DIR [RATE=50] [LIMITED_MSGS=500]
"""
import json
import os
import socket
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bench = os.path.join(sys.argv[1], "tests", "bench", "smtp_bench")
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 50.0
    limited = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    argv = ["/usr/sbin/smtp-sink"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    sink = subprocess.Popen(argv + [f"127.0.0.1:{port}", "256"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        # Round-robin over three domains: limited gets every third message.
        total = limited * 3
        out = subprocess.run([bench, str(port), str(total), "480", "8",
                              f"limited.example.jp={rate:g}", "fast.example.jp", "other.example.jp"],
                             capture_output=True, text=True, timeout=600)
        print(out.stdout.strip())
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        res = json.loads(out.stdout)
        doms = {d["domain"]: d for d in res["domains"]}
        lim = doms["limited.example.jp"]
        err = abs(lim["rate"] - rate) / rate
        print(f"limited.example.jp: {lim['sent']} messages, observed {lim['rate']:.2f} msg/s "
              f"(limit {rate:g}, off by {err * 100:.1f}%, goal <= 5%)")
        ok = err <= 0.05
        for name in ("fast.example.jp", "other.example.jp"):
            d = doms[name]
            print(f"{name}: {d['sent']} messages, last acceptance at {d['last']:.3f} s "
                  f"(limited domain's last at {lim['last']:.3f} s)")
            ok = ok and d["last"] < lim["last"] / 4
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    sys.exit(main())
