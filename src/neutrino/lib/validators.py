"""Neutron's attribute validators and converters, as pure functions.

A validator takes the value a client sent and returns it converted (or unchanged); it raises
`Invalid(reason)` with Neutron's wording, which the request layer wraps in
"Invalid input for <attr>. Reason: <reason>.". Converters of query-string values raise
`InvalidInput` directly, as Neutron's `convert_to_*` helpers do.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any

from neutrino.lib import constants as _const
from neutrino.lib import exceptions as _exc
from neutrino.lib.exceptions import InvalidInput

Validator = Callable[[Any], Any]

# Control characters (newlines included) never belong in a value that ends up in a
# dnsmasq file or a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAC = re.compile(r"^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$", re.IGNORECASE)
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
# dnsmasq option names: a number, or option:name / option6:name with a known-safe charset.
_OPT_NAME = re.compile(r"^(?:(?:option6?:)?[A-Za-z0-9][A-Za-z0-9._-]{0,62}|[0-9]{1,3})$")


class Invalid(ValueError):
    """A value failed validation; the text is Neutron's reason."""


# --- conversions ----------------------------------------------------------------------

def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
    raise InvalidInput(error_message=f"'{value}' cannot be converted to boolean")


# Every integer column is a signed 32-bit INTEGER: a value outside it cannot match or be
# stored, and the drivers disagree on what they do with one (SQLite's raises OverflowError
# beyond 64 bits, MariaDB compares, PostgreSQL refuses), so it is refused before any SQL.
INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidInput(error_message=f"'{value}' is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidInput(error_message=f"'{value}' is not an integer")


def _out_of_range(value: Any) -> str:
    return f"'{value}' is out of range ({INT_MIN} through {INT_MAX})"


def to_db_int(value: Any) -> int:
    """to_int for a query-string filter on an integer column."""
    number = to_int(value)
    if not INT_MIN <= number <= INT_MAX:
        raise InvalidInput(error_message=_out_of_range(value))
    return number


# --- validators -------------------------------------------------------------------------

def _string(value: Any, max_len: int | None) -> str:
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid string")
    try:
        # JSON's "\ud800" parses to a lone surrogate, which is no character: no database,
        # file or log can hold it.
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "backslashreplace").decode("utf-8")
        raise Invalid(f"'{shown}' contains a lone surrogate, which is not a valid "
                      "character") from None
    if max_len is not None and len(value) > max_len:
        raise Invalid(f"'{value}' exceeds maximum length of {max_len}")
    return value


def string(max_len: int | None = 255) -> Validator:
    def check(value: Any) -> str:
        return _string(value, max_len)
    return check


def safe_string(max_len: int = 255) -> Validator:
    """A string that may be written into configuration files: no control characters."""
    def check(value: Any) -> str:
        text = _string(value, max_len)
        if _CONTROL.search(text):
            raise Invalid(f"'{text!r}' contains control characters")
        return text
    return check


def safe_string_or_none(max_len: int = 255) -> Validator:
    inner = safe_string(max_len)

    def check(value: Any) -> str | None:
        return None if value is None else inner(value)
    return check


def string_or_none(max_len: int = 255) -> Validator:
    def check(value: Any) -> str | None:
        return None if value is None else _string(value, max_len)
    return check


def boolean(value: Any) -> bool:
    return to_boolean(value)


def uuid_(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid UUID")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid UUID") from None
    if str(parsed) != value.lower():  # reject braces, urn: prefixes and hex without dashes
        raise Invalid(f"'{value}' is not a valid UUID")
    return value


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid_(value)


def values(allowed: list[Any], convert: Callable[[Any], Any] | None = None) -> Validator:
    def check(value: Any) -> Any:
        converted = convert(value) if convert else value
        if converted not in allowed:
            raise Invalid(f"'{value}' is not in {allowed}")
        return converted
    return check


def values_or_none(allowed: list[Any]) -> Validator:
    inner = values(allowed)

    def check(value: Any) -> Any:
        return None if value is None else inner(value)
    return check


def non_negative_int(value: Any) -> int:
    number = to_int(value)
    if number < 0:
        raise Invalid(f"'{value}' should be non-negative")
    if number > INT_MAX:
        raise Invalid(_out_of_range(value))
    return number


def int_range(low: int, high: int) -> Validator:
    """convert_to_int, then Neutron's type:range."""
    def check(value: Any) -> int:
        number = to_int(value)
        if number < low:
            raise Invalid(f"'{number}' is too small - must be at least '{low}'")
        if number > high:
            raise Invalid(f"'{number}' is too large - must be no larger than '{high}'")
        return number
    return check


def int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    return non_negative_int(value)


def dict_or_none(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"'{value}' is not a dictionary")
    return value


def mac_address(value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value):
        raise Invalid(f"'{value}' is not a valid MAC address")
    octets = value.lower().replace("-", ":")
    if int(octets[:2], 16) & 1 or octets == "00:00:00:00:00:00":
        raise Invalid(f"'{value}' is not a valid MAC address")
    return octets


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(value, str):
        raise Invalid(f"'{value}' is not a valid IP address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid IP address") from None
    if address.version == 6 and "%" in value:
        raise Invalid(f"'{value}' is not a valid IP address")
    return address


def ip_address(value: Any) -> str:
    _ip(value)  # raises unless value is a str holding an address
    return str(value)


def ip_address_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def _cidr(value: Any) -> str:
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(f"'{value}' is not a valid IP subnet")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid IP subnet") from None
    if str(network) != value:
        raise Invalid(f"'{value}' isn't a recognized IP subnet cidr, '{network}' is "
                      "recommended")
    return value


def subnet(value: Any) -> str:
    return _cidr(value)


def subnet_or_none(value: Any) -> str | None:
    return None if value is None else _cidr(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"'{value}' is not a list")
    return value


def _exact_keys(item: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Invalid(f"Invalid data format for {what}: '{item}'")
    extra = set(item) - keys
    if extra:
        raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(extra))}'")
    missing = keys - set(item)
    if missing:
        raise Invalid(f"Invalid data format for {what}: '{item}'")
    return item


def ip_pools(value: Any) -> list[dict[str, str]]:
    pools = []
    for pool in _list(value):
        _exact_keys(pool, {"start", "end"}, "IP pool")
        for key in ("start", "end"):
            try:
                _ip(pool[key])
            except Invalid:
                raise Invalid(f"'{pool[key]}' is not a valid IP address") from None
        pools.append({"start": pool["start"], "end": pool["end"]})
    return pools


def nameservers(value: Any) -> list[str]:
    seen: list[str] = []
    for server in _list(value):
        if not isinstance(server, str):
            raise Invalid(f"Invalid data format for nameserver: '{server}'")
        try:
            _ip(server)
        except Invalid:
            raise Invalid(f"'{server}' is not a valid nameserver. '{server}' is not a valid "
                          "IP address") from None
        if server in seen:
            raise Invalid(f"Duplicate nameserver '{server}'")
        seen.append(server)
    return seen


def hostroutes(value: Any) -> list[dict[str, str]]:
    routes: list[dict[str, str]] = []
    for route in _list(value):
        _exact_keys(route, {"destination", "nexthop"}, "hostroute")
        _cidr(route["destination"])
        ip_address(route["nexthop"])
        clean = {"destination": route["destination"], "nexthop": route["nexthop"]}
        if clean in routes:
            raise Invalid(f"Duplicate hostroute '{route}'")
        routes.append(clean)
    return routes


def fixed_ips(value: Any) -> list[dict[str, str]]:
    ips: list[dict[str, str]] = []
    seen: set[str] = set()
    for fixed_ip in _list(value):
        if not isinstance(fixed_ip, dict):
            raise Invalid(f"Invalid data format for fixed IP: '{fixed_ip}'")
        extra = set(fixed_ip) - {"subnet_id", "ip_address"}
        if extra:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(extra))}'")
        clean: dict[str, str] = {}
        if "ip_address" in fixed_ip:
            ip_address(fixed_ip["ip_address"])
            if fixed_ip["ip_address"] in seen:
                raise Invalid(f"Duplicate IP address '{fixed_ip['ip_address']}'")
            seen.add(fixed_ip["ip_address"])
            clean["ip_address"] = fixed_ip["ip_address"]
        if "subnet_id" in fixed_ip:
            uuid_(fixed_ip["subnet_id"])
            clean["subnet_id"] = fixed_ip["subnet_id"]
        if not clean:
            raise Invalid(f"Invalid data format for fixed IP: '{fixed_ip}'")
        ips.append(clean)
    return ips


def name_list(max_len: int = 255) -> Validator:
    """A list of short names, e.g. availability zone hints."""
    inner = safe_string(max_len)

    def check(value: Any) -> list[str]:
        names = [inner(v) for v in _list(value)]
        if len(set(names)) != len(names):
            raise Invalid(f"Duplicate items in the list: '{', '.join(names)}'")
        return names
    return check


# standard-attr-tag: Neutron's limit per tag; a resource may carry any number of them.
MAX_TAG_LEN = 255


def tag(value: Any) -> str:
    """One tag, as Neutron takes it: any string up to 255 characters (commas included,
    though a filter cannot name such a tag). NUL is refused: no database stores it."""
    text = _string(value, MAX_TAG_LEN)
    if "\x00" in text:
        raise Invalid(f"'{text!r}' contains a NUL character")
    return text


def tags(value: Any) -> list[str]:
    """A list of unique tags (Neutron's list_of_unique_strings of 255)."""
    found = [tag(v) for v in _list(value)]
    duplicates = sorted({t for t in found if found.count(t) > 1})
    if duplicates:
        raise Invalid(f"Duplicate items in the list: '{', '.join(duplicates)}'")
    return found


def _dns_name(max_len: int, error: str) -> Validator:
    """A name of DNS labels, with an optional trailing dot; `error` formats the refusal."""
    def check(value: Any) -> str:
        text = _string(value, max_len)
        if not text:
            return text
        name = text[:-1] if text.endswith(".") else text
        if not all(_DNS_LABEL.match(label) for label in name.split(".")):
            raise Invalid(error.format(text=text))
        return text
    return check


def dns_host_name(max_len: int = 255) -> Validator:
    return _dns_name(max_len, "'{text}' not a valid PQDN or FQDN. Reason: labels must be "
                              "1-63 characters of letters, digits and '-', not starting or "
                              "ending with '-'")


def dns_domain_name(max_len: int = 255) -> Validator:
    return _dns_name(max_len, "'{text}' is not a valid domain name")


def extra_dhcp_opts(value: Any) -> list[dict[str, Any]] | None:
    """Options end up in a dnsmasq options file: names come from a narrow charset and
    values may hold no control characters (commas stay legal: values can be lists)."""
    if value is None:
        return None
    options: list[dict[str, Any]] = []
    for option in _list(value):
        if not isinstance(option, dict):
            raise Invalid(f"Invalid data format for extra DHCP option: '{option}'")
        extra = set(option) - {"opt_name", "opt_value", "ip_version"}
        if extra:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(extra))}'")
        if "opt_name" not in option or "opt_value" not in option:
            raise Invalid(f"Invalid data format for extra DHCP option: '{option}'")
        name = option["opt_name"]
        if not isinstance(name, str) or not name.strip():
            raise Invalid(f"'{name}' Blank strings are not permitted")
        if not _OPT_NAME.match(name):
            raise Invalid(f"'{name}' is not a valid DHCP option name")
        opt_value = option["opt_value"]
        if opt_value is not None:
            if not isinstance(opt_value, str):
                raise Invalid(f"'{opt_value}' is not a valid string")
            if not opt_value.strip():
                raise Invalid(f"'{opt_value}' Blank strings are not permitted")
            if len(opt_value) > 255:
                raise Invalid(f"'{opt_value}' exceeds maximum length of 255")
            if _CONTROL.search(opt_value):
                raise Invalid(f"{opt_value!r} contains control characters")
        clean: dict[str, Any] = {"opt_name": name, "opt_value": opt_value}
        if "ip_version" in option:
            version = option["ip_version"]
            try:
                version = to_int(version)
            except InvalidInput:
                raise Invalid(f"'{version}' is not in [4, 6]") from None
            if version not in (4, 6):
                raise Invalid(f"'{version}' is not in [4, 6]")
            clean["ip_version"] = version
        options.append(clean)
    return options


_SEGMENT_KEYS = ("provider:network_type", "provider:physical_network",
                 "provider:segmentation_id")


def segments(value: Any) -> list[dict[str, Any]] | None:
    """multi-provider's `segments`: a list of {provider:* } dicts; absent keys are None and
    segmentation ids integers, as neutron-lib's convert_and_validate_segments leaves them."""
    if value is None:
        return None
    clean: list[dict[str, Any]] = []
    for segment in _list(value):
        if not isinstance(segment, dict):
            raise Invalid(f"Invalid data format for segment: '{segment}'")
        extra = set(segment) - set(_SEGMENT_KEYS)
        if extra:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(extra))}'")
        network_type = segment.get("provider:network_type")
        physnet = segment.get("provider:physical_network")
        for text, limit in ((network_type, 32), (physnet, 64)):
            if text is not None:
                _string(text, limit)
        seg_id = segment.get("provider:segmentation_id")
        if seg_id is not None:
            try:
                seg_id = non_negative_int(seg_id)
            except InvalidInput:
                raise Invalid(f"'{seg_id}' is not an integer") from None
        clean.append({"provider:network_type": network_type,
                      "provider:physical_network": physnet,
                      "provider:segmentation_id": seg_id})
    return clean


# --- security groups, port security, allowed address pairs -----------------------------

# Neutron's converters for these attributes raise its own error types rather than a
# reason; so do these.
_SG_PROTOCOLS: list[str | None] = [None, *_const.SG_PROTO_ANY, *_const.IP_PROTOCOL_MAP]


def sg_protocol(value: Any) -> str | None:
    """A rule's protocol: None for any, a known name (lower-cased) or a number 0-255 (as
    a string, as Neutron stores it)."""
    if value is None or (isinstance(value, str) and value.lower() in _const.SG_PROTO_ANY):
        return None
    if isinstance(value, int) and not isinstance(value, bool) or \
            isinstance(value, str) and value.strip().isdigit():
        number = int(value)
        if 0 <= number <= 255:
            return str(number)
    elif isinstance(value, str) and value.lower() in _const.IP_PROTOCOL_MAP:
        return value.lower()
    raise _exc.SecurityGroupRuleInvalidProtocol(protocol=value, values=_SG_PROTOCOLS)


def sg_port(value: Any) -> int | None:
    """port_range_min/max: a port 0-65535 (or an ICMP type/code, checked later)."""
    if value is None:
        return None
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not 0 <= number <= 65535:
        raise _exc.SecurityGroupInvalidPortValue(port=value)
    return number


def ethertype(value: Any) -> str:
    if isinstance(value, str):
        for known in (_const.IPV4, _const.IPV6):
            if value.lower() == known.lower():
                return known
    raise _exc.SecurityGroupRuleInvalidEtherType(ethertype=value,
                                                 values=[_const.IPV4, _const.IPV6])


def ip_prefix(value: Any) -> str | None:
    """remote_ip_prefix: a CIDR or an address, normalised to its network ("10.0.0.5" ->
    "10.0.0.5/32", "10.0.0.5/24" -> "10.0.0.0/24"): what the hosts' filters match."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or "%" in value:
            raise ValueError(value)
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise _exc.InvalidCIDR(input=value) from None


def sg_name(max_len: int = 255) -> Validator:
    """A group's name: any string but "default", which is the one Neutrino creates."""
    inner = safe_string(max_len)

    def check(value: Any) -> str:
        text: str = inner(value)
        if text.lower() == _const.DEFAULT_SG_NAME:
            raise _exc.SecurityGroupDefaultAlreadyExists()
        return text
    return check


def uuid_list(value: Any) -> list[str]:
    """A port's security_groups: UUIDs, null meaning none; duplicates collapse."""
    if value is None:
        return []
    found: list[str] = []
    for item in _list(value):
        uuid_(item)
        if item not in found:
            found.append(item)
    return found


def allowed_address_pairs(value: Any) -> list[dict[str, str]]:
    """[{"ip_address": IP or CIDR, "mac_address"?: MAC}], as Neutron validates them (its
    errors); a pair without a MAC takes the port's, filled in by core, which also checks
    their number against max_allowed_address_pair."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _exc.HTTPBadRequest("Allowed address pairs must be a list.")
    seen: set[tuple[str | None, str]] = set()
    pairs: list[dict[str, str]] = []
    for pair in value:
        if not isinstance(pair, dict):
            raise Invalid(f"'{pair}' is not a dictionary")
        clean: dict[str, str] = {}
        if "mac_address" in pair:
            try:
                clean["mac_address"] = mac_address(pair["mac_address"])
            except Invalid as err:
                raise _exc.HTTPBadRequest(str(err)) from None
        if "ip_address" not in pair:
            raise _exc.AllowedAddressPairsMissingIP()
        ip = pair["ip_address"]
        key = (clean.get("mac_address"), ip)
        if key in seen:
            raise _exc.DuplicateAddressPairInRequest(mac_address=key[0], ip_address=ip)
        seen.add(key)
        extra = set(pair) - {"mac_address", "ip_address"}
        if extra:
            raise _exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(sorted(extra))}'")
        try:
            clean["ip_address"] = _cidr(ip) if isinstance(ip, str) and "/" in ip \
                else ip_address(ip)
        except Invalid as err:
            raise _exc.HTTPBadRequest(str(err)) from None
        pairs.append(clean)
    return pairs
