#!/usr/bin/env bash
# Proves README command 1 on a stock Debian 12: a minimal bookworm root made by debootstrap
# (no Python, no pip, no pyenv, none of the host tools), a fresh clone of this checkout's
# committed HEAD in it, and README command 1 run there as root in a login shell with an empty
# environment. Slow (minutes: it needs the Debian mirror and PyPI), so not part of the tests.
#
#   tools/check-stock-debian.sh        as root, on a machine with debootstrap and unshare
#
# The root becomes the root (pivot_root, not a chroot: the lab enters its hosts' mount
# namespaces, which lands at the namespace's root) of a private mount namespace in a PID
# namespace of its own: every mount made there (/proc, /sys, /dev, /run, the lab's
# namespaces) goes when the check ends, and so does every process. It shares the machine's
# kernel and network namespace, so the demo's lab gets a name of its own (NEUTRINO_LAB), and
# the check fails if anything of that lab is left in the root namespace afterwards.
#
# NEUTRINO_STOCK_DIR       where the root lives while the check runs (/var/tmp/neutrino-stock)
# NEUTRINO_STOCK_TARBALL   the base root, kept for the next run (/var/tmp/neutrino-stock-bookworm.tar);
#                          delete it to debootstrap afresh
# DEBIAN_MIRROR            default: this machine's own apt mirror for Debian
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${NEUTRINO_STOCK_DIR:-/var/tmp/neutrino-stock}
tarball=${NEUTRINO_STOCK_TARBALL:-/var/tmp/neutrino-stock-bookworm.tar}
lab="stk$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')"
log="$root.log"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
for tool in debootstrap unshare pivot_root chroot git; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list | grep -oE 'https?://[^ ]*/debian/?' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

# Command 1 as README.md has it: the first command of its first shell block.
command1=$(awk '/^```sh/{inside=1; next} /^```/{if (inside) exit} inside && !/^#/ && NF {print; exit}' \
             "$repo/README.md")
[ -n "$command1" ] || { echo "no command 1 in README.md" >&2; exit 2; }

cleanup() {
  # Links of the lab, should the demo have died before removing them (its processes and
  # mounts went with its namespaces).
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^nl-$lab-"); do
    ip link delete "$link" 2>/dev/null || true
  done
  rmdir "/sys/fs/cgroup/neutrino-lab-$lab"/* "/sys/fs/cgroup/neutrino-lab-$lab" 2>/dev/null || true
  # Mounts live in the private namespace only; refuse to delete through one that leaked.
  if findmnt -rn -o TARGET | grep -q "^$root\(/\|$\)"; then
    echo "mounts under $root remain; not deleting it" >&2
    return
  fi
  rm -rf --one-file-system "$root"
}
if [ -e "$root" ]; then
  echo "$root exists (an earlier check?): remove it first" >&2
  exit 2
fi
trap cleanup EXIT
started=$SECONDS
if [ ! -s "$tarball" ]; then
  echo "# debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.debootstrap.log" 2>&1 || {
    tail -20 "$root.debootstrap.log" >&2; exit 1; }
  rm -f "$root.debootstrap.log"
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  echo "# base root kept in $tarball ($((SECONDS - started)) s)"
else
  mkdir -p "$root"
  tar -C "$root" -xf "$tarball"
fi
# What the base root lacks, to show the install starts from nothing.
for absent in python3 pip3 pyenv dnsmasq udhcpc ip; do
  if chroot "$root" /usr/bin/env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
       sh -c "command -v $absent" >/dev/null; then
    echo "the base root already has $absent: not a stock minimal Debian" >&2
    exit 1
  fi
done
# What Debian's installer writes and debootstrap does not.
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo stock > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tstock\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  > "$root/etc/hosts"
# This machine's local trust anchors (a TLS-inspecting proxy's CA, say): an operator behind the
# same proxy adds them the same way; ca-certificates, which install.sh brings, takes them in.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
git clone -q "$repo" "$root/root/neutrino"

echo "# in $root (lab $lab): $command1"
began=$SECONDS
set +e
unshare --mount --propagation private --pid --fork -- /bin/bash -c '
  set -e
  root=$1
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  cd "$root"
  mkdir -p .host
  pivot_root . .host
  cd /
  umount -l /.host
  rmdir /.host
  exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 NEUTRINO_LAB="$2" \
    /bin/bash -lc "cd /root/neutrino && $3"
' check "$root" "$lab" "$command1" 2>&1 | while IFS= read -r line; do
  printf '%4d s  %s\n' $((SECONDS - began)) "$line"
done | tee "$log"
rc=${PIPESTATUS[0]}
set -e
took=$((SECONDS - began))

left=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^nl-$lab-" || true)
[ -d "/sys/fs/cgroup/neutrino-lab-$lab" ] && left="$left cgroup neutrino-lab-$lab"
if [ -n "$left" ]; then
  echo "FAIL: the lab left behind: $left" >&2
  rc=1
fi
if [ "$rc" = 0 ]; then
  echo "PASS: command 1 on a stock Debian 12 root: ${took} s (whole check $((SECONDS - started)) s); log $log"
else
  echo "FAIL: command 1 exited $rc after ${took} s; log $log" >&2
fi
exit "$rc"
