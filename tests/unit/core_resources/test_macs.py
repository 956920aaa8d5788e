"""MAC generation from base_mac and validation of given MACs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrino.core.resources import macs
from neutrino.lib import exceptions as exc


@given(seed=st.integers())
def test_generated_macs_keep_the_base_prefix(seed: int) -> None:
    mac = macs.generate("fa:16:3e:00:00:00", random.Random(seed))
    assert mac.startswith("fa:16:3e:")
    assert macs.normalize(mac) == mac


@given(seed=st.integers())
def test_nonzero_base_octets_are_kept(seed: int) -> None:
    mac = macs.generate("fa:16:3e:4f:00:00", random.Random(seed))
    assert mac.startswith("fa:16:3e:4f:")


def test_generation_spreads() -> None:
    rng = random.Random(7)
    assert len({macs.generate("fa:16:3e:00:00:00", rng) for _ in range(1000)}) > 990


@pytest.mark.parametrize(("given_mac", "canonical"), [
    ("FA:16:3E:AA:BB:CC", "fa:16:3e:aa:bb:cc"),
    ("fa-16-3e-aa-bb-cc", "fa:16:3e:aa:bb:cc"),
])
def test_normalize(given_mac: str, canonical: str) -> None:
    assert macs.normalize(given_mac) == canonical


@pytest.mark.parametrize("bad", ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                                 "fa:16:3e:aa:bb", "zz:16:3e:aa:bb:cc", ""])
def test_normalize_rejects(bad: str) -> None:
    with pytest.raises(exc.InvalidInput):
        macs.normalize(bad)


def test_bad_base_mac() -> None:
    with pytest.raises(ValueError):
        macs.generate("fa:16:3e")
