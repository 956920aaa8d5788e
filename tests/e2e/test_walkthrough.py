"""The walk-through end to end in the lab, HA included, on both transports.

rabbit: the machine's RabbitMQ on the lab's own vhost, a separate server process and separate
agent processes inside each host. inproc: the all-in-one with the in-process transport.
Each step's outcome is asserted by the demo's checks; the lab fixture asserts that nothing is
left behind (namespaces, links, processes, mounts, directories, cgroup).
"""

from __future__ import annotations

import io
import subprocess

import pytest

from neutrino.lab.demo import Demo, summary

pytestmark = pytest.mark.root


def _walk(lab, transport):
    out = io.StringIO()
    demo = Demo(lab, out=out)
    results = []
    try:
        demo.setup(transport)
        results = demo.run()
    finally:
        text = out.getvalue()
    report = text + summary(results, 0)
    failed = [r for r in results if not r.ok]
    assert not failed, report
    assert len(results) == len(demo.steps())
    # The printed commands are the walk-through's.
    for command in ("$ neutrino ext-list -c name -c alias", "$ neutrino agent-list",
                    "$ neutrino dhcp-agent-list-hosting-net net1",
                    "$ neutrino dhcp-agent-network-add", "$ neutrino dhcp-agent-network-remove",
                    "$ neutrino agent-update --admin-state-up False", "$ neutrino agent-delete",
                    "$ neutrino lab host stop-dhcp HostA", "myserver4: no DHCP lease"):
        assert command in text, command
    return text


@pytest.mark.rabbit
def test_walkthrough_over_rabbitmq(lab_factory):
    lab = lab_factory()
    try:
        _walk(lab, "rabbit")
    finally:
        lab.down()
    vhosts = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True,
                            text=True, timeout=60).stdout.split()
    assert lab.names.rabbit_vhost not in vhosts


def test_walkthrough_all_in_one(lab_factory):
    lab = lab_factory()
    _walk(lab, "inproc")
