"""The real `neutrino-server` process on a free port: identity discovery with
keystoneauth1 (v3 and v2.0 URLs), openstackclient, keystone mode against a second server
acting as Keystone, clean shutdown, and one-line configuration errors."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic
from support.server import NeutrinoServer, clean_env, executable, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with NeutrinoServer(tmp_path_factory.mktemp("api-server")) as running:
        yield running


def keystone_session(auth_url: str, **kwargs) -> ks_session.Session:
    return ks_session.Session(auth=generic.Password(auth_url=auth_url, **kwargs))


def test_keystoneauth_v3_discovery(server):
    sess = keystone_session(f"{server.url}/v3", username="admin", password="adminpassword",
                            project_name="admin", user_domain_name="Default",
                            project_domain_name="Default")
    assert sess.get_token()
    endpoint = sess.get_endpoint(service_type="network", interface="public")
    assert endpoint.rstrip("/") == server.url
    response = sess.get(f"{server.url}/v2.0/networks")
    assert response.status_code == 200 and response.json() == {"networks": []}


def test_keystoneauth_v2_discovery(server):
    # The walk-through's OS_AUTH_URL=http://controlnode:5000/v2.0/ with a tenant name.
    sess = keystone_session(f"{server.url}/v2.0/", username="admin",
                            password="adminpassword", tenant_name="admin")
    assert sess.get_token()
    assert sess.get_endpoint(service_type="network").rstrip("/") == server.url
    response = sess.get(f"{server.url}/v2.0/agents")
    assert response.status_code == 200


def test_bad_password_is_401(server):
    sess = keystone_session(f"{server.url}/v3", username="admin", password="wrong",
                            project_name="admin", user_domain_name="Default",
                            project_domain_name="Default")
    from keystoneauth1 import exceptions
    with pytest.raises(exceptions.Unauthorized):
        sess.get_token()


def test_openstack_network_list(server):
    env = server.cli_env()
    created = requests.post(f"{server.url}/v2.0/networks", json={"network": {"name": "osc"}},
                            headers={"X-Auth-Token": keystone_session(
                                f"{server.url}/v3", username="admin",
                                password="adminpassword", project_name="admin",
                                user_domain_name="Default",
                                project_domain_name="Default").get_token()})
    assert created.status_code == 201
    result = subprocess.run([executable("openstack"), "network", "list", "-f", "json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "osc" in [n["Name"] for n in json.loads(result.stdout)]
    # The walk-through's variables: OS_AUTH_URL=.../v2.0/ and OS_TENANT_NAME.
    legacy = subprocess.run([executable("openstack"), "network", "list", "-f", "json"],
                            env=server.cli_env(identity="v2.0"), capture_output=True,
                            text=True, timeout=120)
    assert legacy.returncode == 0, legacy.stderr
    assert "osc" in [n["Name"] for n in json.loads(legacy.stdout)]


def test_keystone_mode_against_our_identity(server, tmp_path):
    options = {"keystone_authtoken": {
        "www_authenticate_uri": f"{server.url}/v3", "auth_url": f"{server.url}/v3",
        "auth_type": "password", "username": "admin", "password": "adminpassword",
        "project_name": "admin", "user_domain_name": "Default",
        "project_domain_name": "Default", "region_name": "RegionOne",
        "interface": "public"}}
    with NeutrinoServer(tmp_path / "ks-mode", auth_strategy="keystone",
                        options=options) as neutron:
        assert requests.get(f"{neutron.url}/v3").status_code == 404  # no identity here
        member = keystone_session(f"{server.url}/v3", username="demo",
                                  password="demopassword", project_name="demo",
                                  user_domain_name="Default", project_domain_name="Default")
        token = member.get_token()
        response = requests.post(f"{neutron.url}/v2.0/networks", json={"network": {}},
                                 headers={"X-Auth-Token": token})
        assert response.status_code == 201, response.text
        project_id = member.get_project_id()
        assert response.json()["network"]["project_id"] == project_id
        agents = requests.get(f"{neutron.url}/v2.0/agents", headers={"X-Auth-Token": token})
        assert agents.json() == {"agents": []}  # a member, as Keystone says
        bad = requests.get(f"{neutron.url}/v2.0/networks", headers={"X-Auth-Token": "bad"})
        assert bad.status_code == 401
        assert bad.headers["WWW-Authenticate"] == f'Keystone uri="{server.url}/v3"'
        assert requests.get(f"{neutron.url}/v2.0/networks").status_code == 401


def test_sigterm_stops_cleanly(tmp_path):
    with NeutrinoServer(tmp_path) as running:
        process = running.process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "Traceback" not in running.log_path.read_text()


def test_bad_configuration_is_one_line(tmp_path):
    # oslo.messaging's import warns about eventlet on stderr; that is not our output.
    env = clean_env({"PYTHONWARNINGS": "ignore"})
    config = tmp_path / "bad.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\ntransport_url = fake://\n"
                      f"bind_port = {free_port()}\nnetwork_scheduler_driver = nonsense\n")
    result = subprocess.run([executable("neutrino-server"), "--config-file", str(config)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "network_scheduler_driver" in lines[0], result.stderr
    assert "Traceback" not in result.stderr

    missing = subprocess.run([executable("neutrino-server"), "--config-file",
                              str(tmp_path / "absent.conf")], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("options", "threads"), [({}, 2), ({"wsgi_default_pool_size": 3}, 3)])
def test_requests_at_once_per_process(tmp_path, options, threads):
    """On SQLite a process serves two requests at once unless the operator says."""
    with NeutrinoServer(tmp_path, options={"DEFAULT": options}) as running:
        assert requests.get(f"{running.url}/", timeout=10).status_code == 200
    assert (f"Serving up to {threads} API requests at once in this process"
            in running.log_path.read_text())
