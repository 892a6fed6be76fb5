#!/usr/bin/env bash
# test-all.sh - install what is missing, build build/, build-asan/ and
# build-fuzz/, run every test suite, print "N passed, N failed".
#   1. meson test -C build           all suites (unit, integration, lint, fuzz-seeds)
#   2. meson test -C build-asan      the same under ASan+UBSan (any report fails)
#   3. meson test -C build-fuzz --suite fuzz   each libFuzzer target ~20 s
# Exits non-zero when anything failed.  Runs as root on a fresh Debian 12
# (CI: .ci/run) or as a user when the packages are already there.
# ANPI_BUILD_PREFIX: where the build directories go (default: source tree).
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
prefix=${ANPI_BUILD_PREFIX:-$src}
cd "$src" || exit 1

start=$(date +%s)
"$src/scripts/install-deps.sh" || { echo "test-all: installing dependencies failed" >&2; exit 1; }

# Make any sanitizer report fatal (tests/meson.build sets the same for meson
# tests; this covers anything started outside that environment).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

passed=0 failed=0
ran=()   # the build directories whose tests ran in this invocation
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# run_meson LABEL ARGS... - run `meson test`, add its Ok/Fail counts.  A run
# that dies without a summary (build error, crash) counts as one failure.
run_meson() {
  local label=$1; shift
  local log=$logdir/$label.log
  ran+=("$label")
  echo "=== test-all: meson test $* ==="
  meson test "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local ok fail
  ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -n1)
  fail=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$log")
  if [[ -z $ok ]]; then
    # No summary: the run died, or it found no tests (which must not pass
    # silently: a suite that vanished is a failure).
    echo "test-all: $label: meson test ran no tests or died (exit $rc)" >&2
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + ok))
  failed=$((failed + fail))
  if ((rc != 0 && fail == 0)); then
    echo "test-all: $label: meson test exited $rc" >&2
    failed=$((failed + 1))
  fi
}

# built BUILD.SH-OPTIONS... - a failed build counts as one failure and
# skips that directory's tests.
built() {
  echo "=== test-all: build $* ==="
  if ANPI_BUILD_PREFIX=$prefix "$src/scripts/build.sh" "$@"; then
    return 0
  fi
  echo "test-all: build $* failed" >&2
  failed=$((failed + 1))
  return 1
}

if built; then
  run_meson build -C "$prefix/build" --print-errorlogs
  if built --asan --only; then
    run_meson build-asan -C "$prefix/build-asan" --print-errorlogs --timeout-multiplier 3
  fi
  if built --fuzz --only; then
    run_meson build-fuzz -C "$prefix/build-fuzz" --suite fuzz --print-errorlogs
  fi
fi

echo "test-all: finished in $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
# Name what failed last: CI shows only the tail of this output.
if ((failed != 0)); then
  # only logs written by this run: a directory whose build failed keeps
  # an older run's log
  for d in "${ran[@]}"; do
    python3 "$src/scripts/meson-failures.py" "$prefix/$d"
  done
  echo "$passed passed, $failed failed"
fi
((failed == 0))
