"""Parsing of the option values the old neutron client accepted."""

from __future__ import annotations

import argparse
from collections.abc import Callable

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def boolean(text: str) -> bool:
    """`True`/`False` (any case) as the walk-through types them."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value: '{text}' (use True or False)")


def key_values(required: tuple[str, ...], optional: tuple[str, ...] = ()
               ) -> Callable[[str], dict[str, str]]:
    """An argparse type for `k1=v1,k2=v2` with the given keys."""
    allowed = required + optional

    def parse(text: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in allowed:
                raise argparse.ArgumentTypeError(
                    f"invalid value '{text}': expected {','.join(k + '=...' for k in allowed)}")
            if key in result:
                raise argparse.ArgumentTypeError(f"invalid value '{text}': '{key}' repeated")
            result[key] = value.strip()
        missing = [k for k in required if k not in result]
        if missing:
            raise argparse.ArgumentTypeError(
                f"invalid value '{text}': missing {', '.join(missing)}")
        if not result:
            raise argparse.ArgumentTypeError(f"invalid value '{text}'")
        return result

    parse.__name__ = "key=value list"
    return parse


allocation_pool = key_values(("start", "end"))
host_route = key_values(("destination", "nexthop"))
fixed_ip = key_values((), ("subnet_id", "ip_address"))
address_pair = key_values(("ip_address",), ("mac_address",))
