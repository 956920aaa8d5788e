#!/usr/bin/env bash
# Install OpenStack services from PyPI into virtual environments of their own, for the interop
# tests. Idempotent: a venv that already has the pinned versions is left as it is.
#
#   install-openstack.sh [nova|neutron]...   (default: both)
#     nova     Keystone, Placement, Glance, Nova, for the Nova interop test (issue 11)
#     neutron  Neutron 29 (server and agents), for the Neutron interop test (issue 12)
#
#   NEUTRINO_INTEROP_VENV  where the nova set goes (default /var/lib/neutrino-interop/venv)
#   NEUTRINO_INTEROP_NEUTRON_VENV  where the neutron set goes
#                                  (default /var/lib/neutrino-interop/neutron-venv)
#   NEUTRINO_INTEROP_PYTHON  interpreter that creates them (default python3)
#   FORCE=1  reinstall even if the versions are already there
set -euo pipefail

PYTHON=${NEUTRINO_INTEROP_PYTHON:-python3}

install_set() {  # name venv; PACKAGES, MODULES, TOOLS set by the caller
  local name=$1 venv=$2 start marker want
  start=$(date +%s)
  marker="$venv/.neutrino-interop-installed"
  want="$(printf '%s\n' "${PACKAGES[@]}")"
  if [[ -z "${FORCE:-}" && -f "$marker" ]] && [[ "$(cat "$marker")" == "$want" ]]; then
    echo "install-openstack: $venv already has: $(echo "$want" | tr '\n' ' ')"
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$(dirname "$venv")"
    "$PYTHON" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  "$venv/bin/python" -m pip install --quiet "${PACKAGES[@]}"
  # every entry point the harness runs must import
  for mod in "${MODULES[@]}"; do
    PYTHONWARNINGS=ignore "$venv/bin/python" -c "import $mod" >/dev/null
  done
  for tool in "${TOOLS[@]}"; do
    test -x "$venv/bin/$tool" || { echo "install-openstack: missing $tool" >&2; exit 1; }
  done
  echo "$want" > "$marker"
  echo "install-openstack: $name installed into $venv in $(( $(date +%s) - start )) s"
}

sets=("$@")
[[ ${#sets[@]} -gt 0 ]] || sets=(nova neutron)
for set in "${sets[@]}"; do
  case $set in
    nova)
      PACKAGES=(
        "nova==34.0.0"
        "keystone==30.0.0"
        "openstack-placement==16.0.0"
        "glance==33.0.0"
        # what the services need at run time and their own requirements do not pull in
        "PyMySQL"          # mysql+pymysql:// for every service's [database]
        "python-memcached" # keystone's token cache backend module is imported even when unused
      )
      MODULES=(keystone.server.wsgi placement.wsgi glance.common.wsgi_app
               nova.api.openstack.wsgi_app nova.virt.fake werkzeug.serving pymysql)
      TOOLS=(keystone-manage placement-manage glance-manage nova-manage nova-conductor
             nova-scheduler nova-compute)
      install_set nova "${NEUTRINO_INTEROP_VENV:-/var/lib/neutrino-interop/venv}"
      ;;
    neutron)
      PACKAGES=(
        "neutron==29.0.0"
        "PyMySQL"   # mysql+pymysql:// for [database]
        "Werkzeug"  # serves neutron.wsgi.api (Neutron 29 has no neutron-server command)
      )
      # (neutron.wsgi.api itself boots the server on import: its parts are checked instead)
      MODULES=(neutron.server.api neutron.agent.dhcp_agent werkzeug.serving pymysql)
      TOOLS=(neutron-db-manage neutron-rpc-server neutron-dhcp-agent privsep-helper)
      install_set neutron "${NEUTRINO_INTEROP_NEUTRON_VENV:-/var/lib/neutrino-interop/neutron-venv}"
      ;;
    *) echo "install-openstack: unknown set $set (nova, neutron)" >&2; exit 2 ;;
  esac
done
