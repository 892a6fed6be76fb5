#!/usr/bin/env bash
# build.sh [--asan] [--fuzz] [--all] [--only] - configure (or reconfigure) and build.
#   build/       gcc, the normal build (always)
#   build-asan/  clang, AddressSanitizer + UBSan, no recovery     (--asan)
#   build-fuzz/  clang, libFuzzer targets with ASan + UBSan       (--fuzz)
# --only builds just the directories named (build/ is skipped).
# ANPI_BUILD_PREFIX changes where the three directories go (default: the
# source tree).  Idempotent: an existing directory is reconfigured.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
prefix=${ANPI_BUILD_PREFIX:-$src}
asan=0 fuzz=0 only=0
for a in "$@"; do
  case $a in
    --asan) asan=1 ;;
    --fuzz) fuzz=1 ;;
    --all) asan=1 fuzz=1 ;;
    --only) only=1 ;;   # with --asan/--fuzz: skip build/
    -h|--help) sed -n "2,10p" "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

SAN_OPTS=("-Db_sanitize=address,undefined" -Db_lundef=false -Dc_args=-fno-sanitize-recover=all)

# setup DIR CC [meson options...]
setup() {
  local dir=$1 cc=$2; shift 2
  if [[ -f $dir/meson-private/coredata.dat ]]; then
    # Configured already: apply the options (cheap when unchanged); ninja
    # regenerates by itself when a meson.build changed.
    if ! meson configure "$dir" "$@" >/dev/null; then
      echo "build.sh: $dir is unusable; configuring it afresh" >&2
      CC=$cc meson setup --wipe "$dir" "$src" "$@"
    fi
  else
    CC=$cc meson setup "$dir" "$src" "$@"
  fi
  ninja -C "$dir"
}

((only)) || setup "$prefix/build" gcc
((asan)) && setup "$prefix/build-asan" clang "${SAN_OPTS[@]}"
((fuzz)) && setup "$prefix/build-fuzz" clang -Dfuzz=true "${SAN_OPTS[@]}"
exit 0
