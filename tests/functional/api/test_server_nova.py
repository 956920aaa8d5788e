"""neutrino-server with a [nova] section tells a (fake) Nova of a server port's change,
from its own sender thread, after the API call has answered."""

from __future__ import annotations

import requests
from support.fake_nova import PASSWORD, fake_nova
from support.server import NeutrinoServer

SERVER = "6f3c3cbb-7d41-4b8e-9a43-0b1c2d3e4f50"
ADMIN = {"X-Project-Id": "admin-project", "X-Roles": "admin"}


def test_a_port_update_reaches_nova(tmp_path) -> None:  # noqa: ANN001
    with fake_nova() as nova:
        options = {"DEFAULT": {"send_events_interval": 1},
                   "nova": {"auth_type": "password", "auth_url": nova.url + "/identity/v3",
                            "username": "nova", "password": PASSWORD,
                            "project_name": "service", "user_domain_name": "Default",
                            "project_domain_name": "Default", "region_name": "RegionOne"}}
        with NeutrinoServer(tmp_path, auth_strategy="noauth", options=options) as server:
            api = server.url + "/v2.0"
            net = requests.post(f"{api}/networks", json={"network": {"name": "n"}},
                                headers=ADMIN).json()["network"]
            port = requests.post(f"{api}/ports", headers=ADMIN, json={"port": {
                "network_id": net["id"], "device_owner": "compute:nova",
                "device_id": SERVER}}).json()["port"]
            reply = requests.put(f"{api}/ports/{port['id']}", headers=ADMIN,
                                 json={"port": {"name": "eth0"}})
            assert reply.status_code == 200
            assert nova.arrived.wait(60), server.log_tail()
        assert nova.delivered() == [{"name": "network-changed", "server_uuid": SERVER,
                                     "tag": port["id"]}]
        assert "Telling Nova of port changes" in server.log_path.read_text()
