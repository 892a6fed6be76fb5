#!/bin/sh
# smtp_fanout.sh - fan-out benchmark: anpi's SMTP pool vs Postfix's
# smtp-source, both sending N one-recipient messages of SIZE bytes into one
# smtp-sink on loopback, in the same command.  Prints both times and the
# ratio (goal: anpi within 1.25x of smtp-source, no DKIM).
#
#   tests/bench/smtp_fanout.sh BUILD_DIR [N=11500] [SIZE=480] [CONNS=8]
set -eu
BUILD=${1:?usage: smtp_fanout.sh BUILD_DIR [N] [SIZE] [CONNS]}
N=${2:-11500}
SIZE=${3:-480}
CONNS=${4:-8}
BENCH="$BUILD/tests/bench/smtp_bench"
[ -x "$BENCH" ] || { echo "no $BENCH (is subdir('bench') in tests/meson.build?)" >&2; exit 2; }
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_OPT=""
[ "$(id -u)" = 0 ] && USER_OPT="-u nobody"
# shellcheck disable=SC2086
/usr/sbin/smtp-sink $USER_OPT 127.0.0.1:"$PORT" 256 &
SINK=$!
trap 'kill $SINK 2>/dev/null' EXIT INT TERM
i=0
until /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT)).close()" 2>/dev/null; do
    i=$((i+1)); [ $i -lt 100 ] || { echo "smtp-sink did not start" >&2; exit 1; }; sleep 0.05
done

now() { /usr/bin/python3 -c 'import time; print(time.monotonic())'; }

t0=$(now)
/usr/sbin/smtp-source -s "$CONNS" -m "$N" -l "$SIZE" -f bench@example.jp -t user@example.jp 127.0.0.1:"$PORT"
t1=$(now)
ANPI=$("$BENCH" "$PORT" "$N" "$SIZE" "$CONNS")
echo "anpi: $ANPI"
/usr/bin/python3 - "$t0" "$t1" "$ANPI" "$N" "$CONNS" <<'PY'
import json, sys
t0, t1, anpi, n, conns = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
src = t1 - t0
a = anpi["seconds"]
print(f"messages {n}, {conns} connections")
print(f"smtp-source: {src:.3f} s ({n/src:.0f} msg/s)")
print(f"anpi pool:   {a:.3f} s ({n/a:.0f} msg/s), sent {anpi['sent']}, failed {anpi['failed']}")
print(f"ratio anpi/smtp-source: {a/src:.2f} (goal <= 1.25)")
sys.exit(0 if anpi["failed"] == 0 and a / src <= 1.25 else 1)
PY
