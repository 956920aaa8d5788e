"""Fixtures of the lab tests: a uniquely named lab, always taken down and checked empty."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from neutrino.lab.lab import Lab
from neutrino.lab.naming import LabNames


def unique_lab_name() -> str:
    return "t" + secrets.token_hex(3)[:5]


def machine_leftovers(lab: Lab) -> list[str]:
    """The lab's own view plus an independent one (`ip netns list`, root links)."""
    found = list(lab.leftovers())
    prefix = lab.names.netns_prefix
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"ip netns {line.split()[0]}" for line in netns.splitlines()
              if line.startswith(prefix)]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"ip link {line.split(':')[1].strip()}" for line in links.splitlines()
              if line.split(":")[1].strip().startswith(lab.names.link_prefix)]
    return found


@pytest.fixture
def lab_factory():
    made: list[Lab] = []

    # The lab's default directories: dnsmasq runs as nobody and must reach its files, which
    # pytest's private tmp_path would forbid. Unique names keep parallel runs apart.
    def make(name: str | None = None) -> Lab:
        names = LabNames(name or unique_lab_name())
        lab = Lab(names)
        made.append(lab)
        return lab

    yield make
    problems = []
    for lab in made:
        lab.down()
        left = machine_leftovers(lab)
        if left:
            problems.append(f"{lab.names.lab}: {left}")
    assert not problems, f"left behind: {problems}"
