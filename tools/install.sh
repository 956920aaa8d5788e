#!/usr/bin/env bash
# Installs Neutrino on a Debian 12 machine, as root, with no Python tooling needed beforehand:
# the host tools the agents and the lab drive (dnsmasq, a DHCP client, iproute2), Debian's
# python3-venv, and Neutrino in a virtual environment of its own (NEUTRINO_PREFIX, default
# /opt/neutrino) whose console scripts are linked into NEUTRINO_BINDIR (/usr/local/bin).
# The system Python is left alone (Debian 12 refuses pip there: externally managed).
#
#   tools/install.sh              Neutrino and its dependencies
#   tools/install.sh --test       the same with the [test] extra and the interop tests' OpenStack
#                                 (Nova's set; Neutron 29), each in its own environment (what
#                                 tools/run-tests.sh needs)
#   tools/install.sh --systemd    also install the units of etc/systemd/ and reload systemd
#
# PYTHON picks the interpreter the environment is made from (default: Debian's python3).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_systemd=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --systemd) want_systemd=1 ;;
    *) echo "usage: $0 [--test] [--systemd]" >&2; exit 2 ;;
  esac
done

prefix=${NEUTRINO_PREFIX:-/opt/neutrino}
bindir=${NEUTRINO_BINDIR:-/usr/local/bin}
# Debian's own interpreter, not whichever python3 comes first on the PATH: Debian builds it
# with profile-guided and link-time optimisation, and the server runs about 1.3x faster on it
# than on a plain source build (pyenv's), which is what often comes first.
py=${PYTHON:-/usr/bin/python3}

debs=(dnsmasq-base udhcpc isc-dhcp-client iproute2 util-linux procps iptables ipset conntrack iputils-ping
      python3 python3-venv)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A half-made environment (an interrupted run) has no pip, and one made from another
# interpreter would keep running on it: make either again.
want_home=$(dirname "$(readlink -f "$(command -v "$py")")")
have_home=$(sed -n 's/^home = //p' "$prefix/pyvenv.cfg" 2>/dev/null || true)
if [ ! -x "$prefix/bin/pip" ] || [ "$(readlink -f "$have_home")" != "$want_home" ]; then
  rm -rf "$prefix"
  "$py" -m venv "$prefix"
fi
extra=""
[ $want_test = 1 ] && extra="[test]"
# Editable: the environment runs this checkout, so a `git pull` needs no reinstall (only new
# dependencies or console scripts do).
"$prefix/bin/pip" install -q --disable-pip-version-check -e ".$extra"

# Every console script of ours, on the PATH. Names come from the package's metadata, so a new
# one is linked without editing this file.
mkdir -p "$bindir"
scripts=$("$prefix/bin/python" - <<'EOF'
from importlib.metadata import distribution
print("\n".join(sorted(ep.name for ep in distribution("neutrino").entry_points
                       if ep.group == "console_scripts")))
EOF
)
for name in $scripts; do
  ln -sfn "$prefix/bin/$name" "$bindir/$name"
done

if [ $want_test = 1 ]; then
  # The interop tests' OpenStack from PyPI (Keystone, Placement, Glance, Nova; Neutron 29),
  # each set in a virtual environment of its own, made from the first python3 on the PATH
  # (PYTHON when given): some of their packages compile, and a source build such as
  # pyenv's carries its own headers.
  NEUTRINO_INTEROP_PYTHON=${NEUTRINO_INTEROP_PYTHON:-${PYTHON:-python3}} \
    bash tools/interop/install-openstack.sh
fi

if [ $want_systemd = 1 ]; then
  unitdir=${NEUTRINO_UNITDIR:-/etc/systemd/system}
  mkdir -p "$unitdir"
  for unit in etc/systemd/*.service; do
    # The units name /opt/neutrino; another prefix is written into them here.
    sed "s|/opt/neutrino|$prefix|g" "$unit" > "$unitdir/$(basename "$unit")"
  done
  install -d -m 0755 /etc/neutron
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
  else
    echo "systemd is not running here: units written to $unitdir, not loaded" >&2
  fi
fi
echo "Neutrino installed in $prefix; commands linked in $bindir"
