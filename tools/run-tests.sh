#!/usr/bin/env bash
# Runs the whole test suite: lint, layer contracts, unit, functional (SQLite, MariaDB,
# PostgreSQL), integration (RabbitMQ, dnsmasq in namespaces) and end to end (the lab).
set -uo pipefail
cd "$(dirname "$0")/.."
# The environment tools/install.sh made, unless PYTHON names another interpreter.
py=${PYTHON:-${NEUTRINO_PREFIX:-/opt/neutrino}/bin/python}
# The tests start neutrino-server, neutrino, openstack, ... by name: those of the same
# installation as the interpreter come first.
PATH="$("$py" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"
export PATH

# The services the tests talk to; start any that is down (this kind of machine has them).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5432; then pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start; fi
if ! port_open 3306; then start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; fi
if ! port_open 5672; then rabbitmq-server -detached; fi
for port in 5432 3306 5672; do
  for _ in $(seq 60); do port_open $port && break; sleep 1; done
done

status=0
"$py" -m ruff check src tests bench tools || status=1
"$py" -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())" pyproject.toml || status=1
"$py" -m mypy --strict src || status=1
# Coverage of src/neutrino, the servers and agents the tests start included ([tool.coverage]).
rm -f .coverage .coverage.*
"$py" -m pytest -q -p no:cacheprovider --cov --cov-report= "$@" || status=1
if [ -f .coverage ]; then
  echo "coverage of src/neutrino: $("$py" -m coverage report --format=total)%"
fi
exit $status
