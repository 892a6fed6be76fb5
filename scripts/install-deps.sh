#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages anpi builds and tests with.
# Idempotent and fast when everything is present: apt-get runs only when
# dpkg-query reports a package missing.  Needs root for the install step.
set -euo pipefail

PACKAGES=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libuv1-dev libcurl4-openssl-dev libssl-dev libpq-dev libc-ares-dev
  libyaml-dev libxml2-dev libmicrohttpd-dev libjansson-dev libargon2-dev libxlsxwriter-dev
  libcmocka-dev postgresql-15 postfix python3-aiosmtpd python3-dkim wrk
  openssl curl ca-certificates
  chromium chromium-driver fonts-ipafont-gothic
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo $0) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is wanted only for smtp-sink/smtp-source: "No configuration" keeps
# it from setting up and starting a mail system.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
