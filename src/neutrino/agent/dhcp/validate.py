"""What may reach a dnsmasq file or command line from the API.

dnsmasq splits its hosts and options lines on commas, takes `tag:`/`set:` words as tags,
and a newline starts a new directive. Values from users (dns_name, extra_dhcp_opts) and ids
are therefore checked against narrow patterns; anything else is refused, never escaped.
"""

from __future__ import annotations

import ipaddress
import re

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_OPT_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
# The same for DHCPv6 (dnsmasq's option6: names and codes), written as [address] lists.
_ADDRESS_LIST_OPTIONS6 = {
    "dns-server", "sntp-server", "nis-server", "nisp-server", "sip-server",
    "21", "22", "23", "27", "28", "31", "56",
}
# A single option value: no comma, space, quote, backslash, '#', or control character.
_OPT_WORD = re.compile(r"[A-Za-z0-9._:/@+=%~-]{1,255}")

# Options whose value is a list of IPv4 addresses (comma-separated in the API, as Neutron).
_ADDRESS_LIST_OPTIONS = {
    "router", "dns-server", "ntp-server", "log-server", "lpr-server", "netbios-ns",
    "netbios-dd", "nis-server", "time-server", "server-ip-address", "tftp-server-address",
    "3", "4", "6", "7", "9", "42", "44", "45", "150",
}


# Patterns are applied with fullmatch: `$` would accept a trailing newline.


class Unsafe(ValueError):
    """A value that cannot go into a dnsmasq file; the message says why (safe to log)."""


def check_id(value: object, what: str = "id") -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise Unsafe(f"{what} {value!r} is not a plain id")
    return value


def check_mac(value: object) -> str:
    mac = value.lower() if isinstance(value, str) else ""
    if not _MAC.fullmatch(mac):
        raise Unsafe(f"MAC address {value!r} is malformed")
    return mac


def check_hostname(value: object) -> str:
    """A DNS host name (one or more labels); a trailing dot is dropped."""
    if not isinstance(value, str):
        raise Unsafe(f"host name {value!r} is not a string")
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Unsafe(f"host name {value!r} is not a valid DNS name")
    return name


def check_ipv4(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        raise Unsafe(f"{value!r} is not an IPv4 address") from None


def check_ipv6(value: object) -> str:
    try:
        return str(ipaddress.IPv6Address(value))
    except (ValueError, TypeError):
        raise Unsafe(f"{value!r} is not an IPv6 address") from None


def check_ip(value: object) -> str:
    try:
        return str(ipaddress.ip_address(value))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise Unsafe(f"{value!r} is not an IP address") from None


def check_option(name: object, value: object, ip_version: int = 4) -> tuple[str, str]:
    """An extra_dhcp_opt as (dnsmasq option spec, value), e.g. ("option:bootfile-name", "x"),
    or for `ip_version` 6 ("option6:dns-server", "[2001:db8::1]")."""
    if not isinstance(name, str):
        raise Unsafe(f"option name {name!r} is not a string")
    space, top = ("option6:", 65535) if ip_version == 6 else ("option:", 254)
    if name.isdigit() and 1 <= int(name) <= top:
        spec = name if ip_version == 4 else space + name
    elif _OPT_NAME.fullmatch(name):
        spec = space + name
    else:
        raise Unsafe(f"option name {name!r} is not a DHCP option name or number")
    if not isinstance(value, str):
        raise Unsafe(f"value of option {name!r} is not a string")
    if ip_version == 6 and name in _ADDRESS_LIST_OPTIONS6:
        parts = [p.strip().removeprefix("[").removesuffix("]") for p in value.split(",")]
        return spec, ",".join(f"[{check_ipv6(p)}]" for p in parts)
    if ip_version == 4 and name in _ADDRESS_LIST_OPTIONS:
        parts = [p.strip() for p in value.split(",")]
        return spec, ",".join(check_ipv4(p) for p in parts)
    if not _OPT_WORD.fullmatch(value):
        raise Unsafe(f"value {value!r} of option {name!r} has characters dnsmasq would "
                     f"interpret")
    return spec, value
