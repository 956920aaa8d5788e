"""neutrino-db-manage against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from neutrino.cmd import db_manage
from neutrino.conf.settings import DatabaseSettings
from neutrino.db.engine import Database
from neutrino.db.models import Base


def _conf(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "neutron.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n\n"
                    f"[database]\nconnection = {url}\n")
    return path


def test_upgrade_head_current_downgrade(database: Database, tmp_path: Path, capsys) -> None:  # noqa: ANN001,E501
    url = database.url.render_as_string(hide_password=False)
    database.downgrade("base")
    conf = str(_conf(tmp_path, url))
    assert db_manage.main(["--config-file", conf, "current"]) == 0
    assert capsys.readouterr().out.strip() == "base"
    assert db_manage.main(["--config-file", conf, "upgrade", "head"]) == 0
    assert set(Base.metadata.tables) <= set(inspect(database.engine).get_table_names())
    assert db_manage.main(["--config-file", conf, "current"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{database.head_revision()} (head)")
    assert db_manage.main(["--config-file", conf, "downgrade", "base"]) == 0
    assert database.current_revision() is None


def test_console_script_default_sqlite_under_state_path(tmp_path: Path) -> None:
    conf = tmp_path / "neutron.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    done = subprocess.run([sys.executable, "-m", "neutrino.cmd.db_manage", "--config-file",
                           str(conf), "upgrade", "head"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    db_file = tmp_path / "state" / "neutrino.sqlite"
    assert db_file.exists()
    db = Database(DatabaseSettings(f"sqlite:///{db_file}"))
    try:
        assert db.current_revision() == db.head_revision()
    finally:
        db.dispose()


def test_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    conf = tmp_path / "neutron.conf"
    conf.write_text("[database]\nconnection = mysql://root@127.0.0.1:1/x\nmax_retries = 0\n"
                    "retry_interval = 0\n")
    done = subprocess.run([sys.executable, "-m", "neutrino.cmd.db_manage", "--config-file",
                           str(conf), "current"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 1
    assert "unreachable" in done.stderr and "Traceback" not in done.stderr


def test_adopt_default_security_groups_guards_the_ports_made_before_them(
        database: Database, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    # What migration 0010 left: ports with port security and no group, which a firewall
    # would cut off entirely.
    from support.core_world import World

    from neutrino.lib import constants as c

    world = World(database)
    net = world.network()
    old = world.port(net["id"], security_groups=[])
    elsewhere = world.port(net["id"], project_id="other", security_groups=[])
    dhcp = world.port(net["id"], device_owner=c.DEVICE_OWNER_DHCP, security_groups=[])
    open_port = world.port(net["id"], port_security_enabled=False)
    grouped = world.port(net["id"])  # made after: in its default group already
    default = grouped["security_groups"]
    conf = str(_conf(tmp_path, database.url.render_as_string(hide_password=False)))

    assert db_manage.main(["--config-file", conf, "adopt-default-security-groups"]) == 0
    assert capsys.readouterr().out.startswith("2 port(s)")

    def show(port):
        return world.core.ports.get(world.admin, port["id"])
    assert show(old)["security_groups"] == default
    assert show(old)["revision_number"] == old["revision_number"] + 1
    [other_default] = show(elsewhere)["security_groups"]
    group = world.core.security_groups.get(world.admin, other_default)
    assert (group["name"], group["project_id"]) == ("default", "other")
    assert sorted((r["direction"], r["ethertype"], r["remote_group_id"])
                  for r in group["security_group_rules"]) == [
        ("egress", "IPv4", None), ("egress", "IPv6", None),
        ("ingress", "IPv4", other_default), ("ingress", "IPv6", other_default)]
    assert show(dhcp)["security_groups"] == []  # the cloud's own ports stay trusted
    assert show(open_port)["security_groups"] == []
    assert show(grouped) == grouped
    # The agents filter them by their new group.
    info = world.core.security_group_rpc.info_for_devices([old["id"]])
    assert info["devices"][old["id"]]["security_groups"] == default

    assert db_manage.main(["--config-file", conf, "adopt-default-security-groups"]) == 0
    assert capsys.readouterr().out.startswith("0 port(s)")  # once done, nothing to do
