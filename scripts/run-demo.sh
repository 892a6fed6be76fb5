#!/usr/bin/env bash
# run-demo.sh [--status] - run anpi on the example deployment, on this machine.
#
#   1. installs what is missing (scripts/install-deps.sh) and builds build/
#   2. a private PostgreSQL 15 cluster under var/pg (unix socket only),
#      database "anpi"; reused when it exists, started when stopped
#   3. smtp-sink on 127.0.0.1:2525 keeping every mail under var/sink/
#   4. anpid with examples/anpid.yaml, log in var/anpid.log (restarted cleanly
#      when it runs already, so a new build or config takes effect)
#   5. pushes the fictional quake reports examples/feeds/NN_*.xml through the
#      admin API with ?replay=1 (already stored ones come back as duplicates)
#   6. prints the incidents, the approve command and a reply link
#
# --status skips 1-5 and prints 6 again (e.g. after approving).
# Everything is left running; scripts/stop-demo.sh stops it.
#
# The example config takes machine-specific values from the environment
# ("${ENV:NAME}" in the YAML): ANPI_DB (conninfo of the cluster above) and
# ANPI_API_TOKEN (a random token kept in var/api-token).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
var=$src/var
config=$src/examples/anpid.yaml
PGBIN=/usr/lib/postgresql/15/bin
SINK_ADDR=127.0.0.1:2525
status_only=0
[[ ${1:-} == --status ]] && status_only=1

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }

# pid_alive PIDFILE NAME: the pid in PIDFILE is running and is NAME (a pid
# file surviving a reboot may name an unrelated process).
pid_alive() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

mkdir -p "$var"

# The cluster belongs to `postgres` when we are root (initdb refuses root).
if ((EUID == 0)); then
  as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
  as_pg() { "$@"; }
fi

# reachable_dir NAME USER: var/NAME, made so that USER can reach it.  As root
# the cluster runs as `postgres` and smtp-sink as `nobody`; a checkout under
# /root is closed to them, so the directory then lives under
# /var/lib/anpi-demo/<hash of this path>/NAME and var/NAME links there.
reachable_dir() {
  local dir=$var/$1
  if ((EUID == 0)) && [[ ! -L $dir ]] && ! (cd / && runuser -u "$2" -- test -x "$var"); then
    local alt
    alt=/var/lib/anpi-demo/$(printf '%s' "$src" | sha256sum | cut -c1-12)/$1
    mkdir -p "$alt"
    chmod 755 /var/lib/anpi-demo "$(dirname "$alt")" "$alt"
    [[ -e $dir ]] && die "$dir exists but $2 cannot reach it; remove it"
    ln -s "$alt" "$dir"
  fi
  mkdir -p "$dir"
  readlink -f "$dir"
}

if ((!status_only)); then
  say "Installing missing packages"
  "$src/scripts/install-deps.sh"

  say "Building build/"
  "$src/scripts/build.sh"

  [[ -f $config ]] || die "missing $config"
  compgen -G "$src/examples/feeds/[0-9][0-9]_*.xml" >/dev/null \
    || die "no example feed documents examples/feeds/NN_*.xml"

  # --- PostgreSQL ------------------------------------------------------------
  say "PostgreSQL 15 cluster in var/pg"
  pg=$(reachable_dir pg postgres)
  sock=$pg/run
  # Unix socket paths are limited to 107 bytes.
  if (( ${#sock} > 90 )); then
    sock=/tmp/anpi-demo-$(printf '%s' "$src" | sha256sum | cut -c1-12)
  fi
  mkdir -p "$sock"
  if ((EUID == 0)); then
    chown postgres:postgres "$pg" "$sock"
  fi
  if [[ ! -f $pg/data/PG_VERSION ]]; then
    as_pg "$PGBIN/initdb" -D "$pg/data" -A trust -E UTF8 --locale=C.UTF-8 -U postgres >"$var/initdb.log" \
      || { cat "$var/initdb.log"; die "initdb failed"; }
    echo "created the cluster"
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
    echo "cluster already running"
  else
    as_pg "$PGBIN/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t 60 \
      -o "-k $sock -c listen_addresses=''" start >/dev/null \
      || { tail -n 20 "$pg/postgres.log" >&2; die "PostgreSQL did not start"; }
    echo "cluster started"
  fi
  echo "$sock" >"$var/pg-socket"
  psql_pg() { psql -X -q -At -h "$sock" -U postgres "$@"; }
  if [[ $(psql_pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'anpi'") != 1 ]]; then
    psql_pg -d postgres -c "CREATE DATABASE anpi"
    echo "created database anpi"
  fi
  export ANPI_DB="host=$sock dbname=anpi user=postgres"

  # --- SMTP sink -------------------------------------------------------------
  say "SMTP sink on $SINK_ADDR (mail kept in var/sink/)"
  sink=$(reachable_dir sink nobody)
  if pid_alive "$var/smtp-sink.pid" smtp-sink; then
    echo "smtp-sink already running"
  else
    if (exec 3<>"/dev/tcp/${SINK_ADDR%:*}/${SINK_ADDR#*:}") 2>/dev/null; then
      die "something else listens on $SINK_ADDR; stop it or change smtp.relays"
    fi
    sink_user=()
    if ((EUID == 0)); then
      chown nobody "$sink"
      sink_user=(-u nobody)
    fi
    setsid /usr/sbin/smtp-sink "${sink_user[@]}" -d "$sink/msg." "$SINK_ADDR" 64 \
      </dev/null >>"$var/smtp-sink.log" 2>&1 &
    echo $! >"$var/smtp-sink.pid"
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/${SINK_ADDR%:*}/${SINK_ADDR#*:}") 2>/dev/null && break
      sleep 0.1
    done
    pid_alive "$var/smtp-sink.pid" smtp-sink || { cat "$var/smtp-sink.log" >&2; die "smtp-sink did not start"; }
    echo "smtp-sink started"
  fi

  # --- anpid -----------------------------------------------------------------
  say "anpid with examples/anpid.yaml (log: var/anpid.log)"
  [[ -s $var/api-token ]] || (umask 077; openssl rand -hex 24 >"$var/api-token")
  ANPI_API_TOKEN=$(cat "$var/api-token")
  export ANPI_API_TOKEN
  "$src/build/anpid" --config "$config" --check \
    || die "examples/anpid.yaml does not pass anpid --check (errors above)"
  if pid_alive "$var/anpid.pid" anpid; then
    pid=$(cat "$var/anpid.pid")
    echo "stopping the running anpid ($pid) to start the current build"
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; sleep 0.2; }
  fi
  setsid "$src/build/anpid" --config "$config" </dev/null >>"$var/anpid.log" 2>&1 &
  echo $! >"$var/anpid.pid"
  admin=$(/usr/bin/python3 "$src/scripts/demo.py" get "$config" listen.admin 127.0.0.1:8081)
  for i in $(seq 150); do
    pid_alive "$var/anpid.pid" anpid || { tail -n 30 "$var/anpid.log" >&2; die "anpid exited; see var/anpid.log"; }
    curl -fsS -m 2 -o /dev/null "http://$admin/healthz" 2>/dev/null && break
    ((i == 150)) && { tail -n 30 "$var/anpid.log" >&2; die "anpid not healthy after 30 s"; }
    sleep 0.2
  done
  echo "anpid is up (pid $(cat "$var/anpid.pid")), admin API http://$admin"

  # --- feed documents --------------------------------------------------------
  say "Pushing the fictional quake reports (examples/feeds/, replayed to now)"
  /usr/bin/python3 "$src/scripts/demo.py" push "$config" "$src/examples/feeds" \
    || die "some documents were refused (see above and var/anpid.log)"
  /usr/bin/python3 "$src/scripts/demo.py" account "$config" "$var/console-password" \
    || die "the console account could not be made (see above)"
  sleep 1   # let rule matching and the officer notice run
else
  pid_alive "$var/anpid.pid" anpid || die "the demo is not running; start it with ./scripts/run-demo.sh"
  if [[ -s $var/pg-socket ]]; then
    ANPI_DB="host=$(cat "$var/pg-socket") dbname=anpi user=postgres"
    export ANPI_DB
  fi
  ANPI_API_TOKEN=$(cat "$var/api-token")
  export ANPI_API_TOKEN
fi

# --- what now ------------------------------------------------------------------
outbox=$(/usr/bin/python3 "$src/scripts/demo.py" get "$config" outbox.dir)
maildirs=("$(readlink -f "$var/sink")")
if [[ -n $outbox ]]; then
  [[ $outbox == /* ]] || outbox=$(dirname "$config")/$outbox
  mkdir -p "$outbox"
  maildirs+=("$(cd "$outbox" && pwd)")
fi
/usr/bin/python3 "$src/scripts/demo.py" report "$config" "${maildirs[@]}"

cat <<EOF

Logs: var/anpid.log (JSON lines), var/smtp-sink.log, var/pg/postgres.log
Show this again: ./scripts/run-demo.sh --status
Stop everything:  ./scripts/stop-demo.sh   (--purge also deletes var/)
EOF
