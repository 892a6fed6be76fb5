#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR SECONDS - run a libFuzzer target for a bounded
# time.  New inputs go to a temporary directory so the seed corpus in the
# tree is never modified.
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath "$2") secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work" "$seeds"
