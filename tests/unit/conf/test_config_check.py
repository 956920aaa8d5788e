"""`neutrino-server --config-check`: unknown options, bad values, unreachable services."""

from __future__ import annotations

import io
import socket

from oslo_config import cfg

from neutrino.cmd import config_check, server
from neutrino.conf import opts


def load(tmp_path, text: str) -> cfg.ConfigOpts:
    path = tmp_path / "neutron.conf"
    path.write_text(text)
    conf = opts.load(["--config-file", str(path)], prog="neutrino-server")
    server.register_edge_opts(conf)
    return conf


def check(conf: cfg.ConfigOpts) -> tuple[int, str]:
    out = io.StringIO()
    code = config_check.run(conf, server.server_opt_groups(conf), server.check_config, out)
    return code, out.getvalue()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_a_typo_in_a_known_section_is_reported_and_other_services_sections_are_not(tmp_path):
    conf = load(tmp_path, "[DEFAULT]\ndhcp_agents_per_netwrok = 2\n"
                          "dhcp_lease_time = 600\n"  # a deprecated spelling still works
                          "[placement]\nregion_name = RegionOne\n"
                          "[keystone_authtoken]\nwww_authenticate_uri = http://k:5000\n")
    problems, notes = config_check.unknown_options(
        config_check.config_files(conf), config_check.known_keys(server.server_opt_groups(conf)))
    assert [p.split(": ", 1)[1] for p in problems] == [
        "[DEFAULT] dhcp_agents_per_netwrok: unknown option"]
    assert any("[placement]" in n for n in notes)


def test_bad_values_fail_the_check(tmp_path):
    code, out = check(load(tmp_path, "[DEFAULT]\nbind_port = ninety\n"
                                     "network_scheduler_driver = nope\n"))
    assert code == 1
    assert "bind_port" in out


def test_unreachable_broker_fails_and_a_good_config_passes(tmp_path):
    state = tmp_path / "state"
    base = (f"[DEFAULT]\nstate_path = {state}\n"
            f"[database]\nconnection = sqlite:///{tmp_path / 'db.sqlite'}\n")
    code, out = check(load(tmp_path, base.replace(
        "[database]", f"transport_url = rabbit://u:p@127.0.0.1:{closed_port()}/\n[database]")))
    assert code == 1 and "rabbitmq: unreachable" in out
    code, out = check(load(tmp_path, base.replace(
        "[database]", "transport_url = fake://\n[database]")))
    assert code == 0, out
    assert "configuration OK" in out
