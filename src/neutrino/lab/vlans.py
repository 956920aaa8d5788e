"""The VLAN follower: on kernels without 802.1Q, physnet1's VLANs are emulated segments
(see fabric.py) that must exist before the Linux bridge agents can wire a network. The
lab cannot know in advance which VLANs networks will get (the walk-through's range has
2000; a veth pair per VLAN and host up front would be thousands of links), so this small
process, started by `lab up` in the lab's cgroup, asks the API for the VLAN networks every
`--interval` seconds and makes their segments reach every host, whoever created them.
Segments stay until `lab down` (an unused one costs two links per host and nothing else).
It exits when the lab's record is gone."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from neutrino.lab import fabric, state
from neutrino.lab.api import ApiError, Credentials, NetworkApi
from neutrino.lab.config import DEMO_ADMIN
from neutrino.lab.naming import PHYSNET, LabNames

LOG = logging.getLogger("neutrino.lab.vlans")
MODULE = "neutrino.lab.vlans"


def follower_args(names: LabNames) -> list[str]:
    """What follows `python -m neutrino.lab.vlans`; also how `down` recognises it."""
    return ["--lab", names.lab, "--run-base", names.run_base, "--state-base",
            names.state_base]


def wanted_vlans(api: NetworkApi) -> set[int]:
    """physnet1's VLAN ids in use by any network."""
    found = api.list_networks(**{"provider:network_type": "vlan",
                                 "provider:physical_network": PHYSNET})
    return {int(n["provider:segmentation_id"]) for n in found
            if n.get("provider:segmentation_id") is not None}


def follow_once(names: LabNames, api: NetworkApi) -> bool:
    """One pass; False once the lab is gone (or tags for real, so nothing is to do)."""
    st = state.load(names.state_file)
    if st is None or not st.emulated_vlans:
        return False
    hosts = {h: r.index for h, r in st.hosts.items()}
    fabric.ensure_vlan_segments(names, wanted_vlans(api), hosts)
    return True


def follow(names: LabNames, interval: float) -> None:
    api: NetworkApi | None = None
    while True:
        st = state.load(names.state_file)
        if st is None:
            return
        try:
            if api is None and st.api_port:
                api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/",
                                             *DEMO_ADMIN))
            if api is not None and not follow_once(names, api):
                return
        except (ApiError, OSError, RuntimeError) as err:
            # The server restarting, a token expired, a host being added: try again with
            # a fresh login on the next pass.
            LOG.warning("VLAN pass failed: %s", err)
            api = None
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=MODULE)
    parser.add_argument("--lab", required=True)
    parser.add_argument("--run-base", required=True)
    parser.add_argument("--state-base", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    follow(LabNames(args.lab, args.run_base, args.state_base), args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
