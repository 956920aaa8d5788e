#!/usr/bin/env bash
# Install a real OpenStack control plane (Keystone, Placement, Glance, Nova) from PyPI into
# its own virtual environment, for the Nova interop test (issue 11). Idempotent: a venv that
# already has the pinned versions is left as it is.
#
#   NEUTRINO_INTEROP_VENV  where the venv goes (default /var/lib/neutrino-interop/venv)
#   NEUTRINO_INTEROP_PYTHON  interpreter that creates it (default python3)
#   FORCE=1  reinstall even if the versions are already there
set -euo pipefail

VENV=${NEUTRINO_INTEROP_VENV:-/var/lib/neutrino-interop/venv}
PYTHON=${NEUTRINO_INTEROP_PYTHON:-python3}
PACKAGES=(
  "nova==34.0.0"
  "keystone==30.0.0"
  "openstack-placement==16.0.0"
  "glance==33.0.0"
  # what the services need at run time and their own requirements do not pull in
  "PyMySQL"          # mysql+pymysql:// for every service's [database]
  "python-memcached" # keystone's token cache backend module is imported even when unused
)

start=$(date +%s)
marker="$VENV/.neutrino-interop-installed"
want="$(printf '%s\n' "${PACKAGES[@]}")"

if [[ -z "${FORCE:-}" && -f "$marker" ]] && [[ "$(cat "$marker")" == "$want" ]]; then
  echo "install-openstack: $VENV already has: $(echo "$want" | tr '\n' ' ')"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"

# every entry point the harness runs must import
for mod in keystone.server.wsgi placement.wsgi glance.common.wsgi_app \
           nova.api.openstack.wsgi_app nova.virt.fake werkzeug.serving pymysql; do
  "$VENV/bin/python" -c "import $mod" >/dev/null
done
for tool in keystone-manage placement-manage glance-manage nova-manage nova-conductor \
            nova-scheduler nova-compute; do
  test -x "$VENV/bin/$tool" || { echo "install-openstack: missing $tool" >&2; exit 1; }
done

echo "$want" > "$marker"
echo "install-openstack: installed into $VENV in $(( $(date +%s) - start )) s"
