#!/usr/bin/env bash
# Installs what Neutrino needs on a Debian 12 machine, as root: the host tools the agents and
# the lab drive (dnsmasq, a DHCP client, iproute2) and the Python package with its console
# scripts. `--test` adds what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

debs=(dnsmasq-base udhcpc isc-dhcp-client iproute2 util-linux procps)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

py=${PYTHON:-python3}
if [ $want_test = 1 ]; then
  "$py" -m pip install -q --disable-pip-version-check -e '.[test]'
else
  "$py" -m pip install -q --disable-pip-version-check -e .
fi

# Under pyenv, new console scripts (neutrino, neutrino-server, ...) need their shims.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
