#!/usr/bin/env bash
# stop-demo.sh [--purge] - stop what run-demo.sh started: anpid, smtp-sink and
# the private PostgreSQL cluster.  --purge also deletes var/ (database, mail,
# logs) so the next run-demo.sh starts from nothing.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
var=$src/var
PGBIN=/usr/lib/postgresql/15/bin

# stop_pid PIDFILE NAME - TERM the process named in PIDFILE if it is NAME,
# KILL it after 10 s.
stop_pid() {
  local pid
  [[ -f $1 ]] || return 0
  pid=$(cat "$1")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$2 ($pid) ignored SIGTERM; killing it"
      kill -KILL "$pid"
    fi
    echo "stopped $2 ($pid)"
  fi
  rm -f "$1"
}

stop_pid "$var/anpid.pid" anpid
stop_pid "$var/smtp-sink.pid" smtp-sink

pg=$var/pg
[[ -e $pg ]] && pg=$(readlink -f "$pg")   # postgres may not reach it through var/
if [[ -f $pg/data/PG_VERSION ]]; then
  if ((EUID == 0)); then as_pg=(runuser -u postgres --); else as_pg=(); fi
  if (cd / && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pg/data" status >/dev/null 2>&1); then
    (cd / && "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pg/data" -m fast -w -t 60 stop >/dev/null)
    echo "stopped PostgreSQL (var/pg)"
  fi
fi

if [[ ${1:-} == --purge ]]; then
  # run-demo.sh links var/pg and var/sink elsewhere when the checkout is
  # closed to postgres/nobody; delete those targets too.
  for link in "$var"/*; do
    if [[ -L $link ]]; then
      target=$(readlink -f "$link")
      rm -rf "$target"
      rmdir "$(dirname "$target")" /var/lib/anpi-demo 2>/dev/null || true
    fi
  done
  rm -rf "$var"
  echo "deleted var/"
fi
