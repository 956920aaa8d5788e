import argparse

import pytest

from neutrino.cli import parsing


@pytest.mark.parametrize("text,value", [("True", True), ("false", False), ("FALSE", False),
                                        ("1", True), ("no", False)])
def test_boolean(text, value):
    assert parsing.boolean(text) is value


def test_boolean_rejects_other_words():
    with pytest.raises(argparse.ArgumentTypeError, match="invalid boolean value: 'maybe'"):
        parsing.boolean("maybe")


def test_allocation_pool():
    assert parsing.allocation_pool("start=9.0.1.10,end=9.0.1.20") == {
        "start": "9.0.1.10", "end": "9.0.1.20"}


@pytest.mark.parametrize("text", ["start=9.0.1.10", "start=1,end=2,size=3", "9.0.1.10",
                                  "start=1,start=2,end=3", ""])
def test_allocation_pool_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parsing.allocation_pool(text)


def test_host_route_and_fixed_ip():
    assert parsing.host_route("destination=10.0.0.0/8,nexthop=9.0.1.1") == {
        "destination": "10.0.0.0/8", "nexthop": "9.0.1.1"}
    assert parsing.fixed_ip("ip_address=9.0.1.5") == {"ip_address": "9.0.1.5"}
    assert parsing.fixed_ip("subnet_id=subnet2,ip_address=9.0.1.5") == {
        "subnet_id": "subnet2", "ip_address": "9.0.1.5"}
