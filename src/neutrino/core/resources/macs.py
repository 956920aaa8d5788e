"""MAC addresses for ports: generated from `base_mac`, validated when given."""

from __future__ import annotations

import random
import re

from neutrino.lib import exceptions as exc

_MAC = re.compile(r"^([0-9a-fA-F]{2})([:-][0-9a-fA-F]{2}){5}$")


def parse_base_mac(base_mac: str) -> list[int | None]:
    """Octets of base_mac; None where the generator draws a random octet (an `00` among
    the last three, as Neutron does with its fourth)."""
    if not _MAC.match(base_mac or ""):
        raise ValueError(f"base_mac {base_mac!r} is not a MAC address")
    octets = [int(part, 16) for part in re.split(r"[:-]", base_mac)]
    return [o if i < 3 or o != 0 else None for i, o in enumerate(octets)]


def generate(base_mac: str, rng: random.Random | None = None) -> str:
    """A random MAC under base_mac, e.g. fa:16:3e:xx:xx:xx."""
    draw = rng or random
    octets = [o if o is not None else draw.getrandbits(8) for o in parse_base_mac(base_mac)]
    return ":".join(f"{o:02x}" for o in octets)


def normalize(mac: str) -> str:
    """A user's MAC in Neutron's canonical form (lower case, colons); unicast only."""
    if not isinstance(mac, str) or not _MAC.match(mac):
        raise exc.InvalidInput(error_message=f"'{mac}' is not a valid MAC address")
    canonical = mac.replace("-", ":").lower()
    first = int(canonical[:2], 16)
    if first & 1:
        raise exc.InvalidInput(error_message=f"'{mac}' is not a valid MAC address")
    if canonical == "00:00:00:00:00:00":
        raise exc.InvalidInput(error_message=f"'{mac}' is not a valid MAC address")
    return canonical
