"""Every API resource described once, as data.

Request validation, defaults, the response view, `fields=`, filters, sorting and the
OpenAPI document are all derived from these tables (see request.py, listing.py,
openapi.py). Names, defaults and POST/PUT rights follow neutron-lib's definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neutrino.lib import constants as c
from neutrino.lib import exceptions as exc
from neutrino.lib import validators as v


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REQUIRED = _Sentinel("REQUIRED")  # POST must carry it
UNSET = _Sentinel("UNSET")  # optional; omitted from the body core gets, core decides

# JSON-schema type of an attribute, for the OpenAPI document and to know what sorts.
STRING, BOOLEAN, INTEGER, ARRAY, OBJECT = "string", "boolean", "integer", "array", "object"
_SCALARS = {STRING, BOOLEAN, INTEGER}


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = STRING
    validate: v.Validator | None = None
    default: Any = UNSET
    allow_post: bool = False
    allow_put: bool = False
    visible: bool = True
    filter: bool = False
    # Converts one query-string value of a filter (e.g. "True" -> True).
    convert_filter: Callable[[str], Any] | None = None
    # Guarded per attribute by "<action>_<resource>:<name>" policy rules.
    enforce_policy: bool = False
    nullable: bool = False
    description: str = ""
    # The longest string the column holds; core checks it for callers the API's
    # validation never saw (the agents' RPC).
    max_length: int | None = None

    @property
    def sortable(self) -> bool:
        return self.visible and self.type in _SCALARS


@dataclass(frozen=True)
class Resource:
    singular: str
    plural: str
    attributes: tuple[Attribute, ...]
    not_found: Callable[[str], exc.NeutronException]
    # Resources owned by a project carry tenant_id/project_id, filled from the caller.
    owned: bool = True
    description: str = ""
    # What `marker` names and what breaks ties when sorting.
    primary_key: str = "id"
    # The collection's URL segment when it differs from `plural` (the bodies' key).
    url: str = ""
    _by_name: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name: a for a in self.attributes})

    @property
    def path(self) -> str:
        """/v2.0/<path>: "security-groups" for the body's "security_groups"."""
        return self.url or self.plural

    def get(self, name: str) -> Attribute | None:
        return self._by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def visible_names(self) -> list[str]:
        return [a.name for a in self.attributes if a.visible]

    @property
    def updatable(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attributes if a.allow_put)

    @property
    def read_only(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attributes if not a.allow_put)

    @property
    def limits(self) -> dict[str, int]:
        return {a.name: a.max_length for a in self.attributes if a.max_length is not None}


def _bool_attr(name: str, default: Any = UNSET, post: bool = True, put: bool = True,
               **kw: Any) -> Attribute:
    return Attribute(name, BOOLEAN, v.boolean, default, post, put, filter=True,
                     convert_filter=v.to_boolean, **kw)


def _ro(name: str, type_: str = STRING, filter_: bool = False,
        convert: Callable[[str], Any] | None = None, **kw: Any) -> Attribute:
    return Attribute(name, type_, filter=filter_, convert_filter=convert, **kw)


def _text(name: str, max_length: int, default: Any = UNSET, post: bool = True,
          put: bool = True, make: Callable[[int], v.Validator] = v.safe_string,
          **kw: Any) -> Attribute:
    """A string attribute whose validator and length limit come from one number."""
    return Attribute(name, STRING, make(max_length), default, post, put,
                     max_length=max_length, **kw)


def _id() -> Attribute:
    return Attribute("id", STRING, v.uuid_, filter=True, description="UUID")


def _name() -> Attribute:
    return _text("name", 255, "", filter=True)


def _project() -> tuple[Attribute, ...]:
    return (
        _text("tenant_id", 255, put=False, filter=True),
        _text("project_id", 255, put=False, filter=True),
    )


def _standard() -> tuple[Attribute, ...]:
    return (
        _text("description", 255, "", filter=True),
        _ro("created_at"),
        _ro("updated_at"),
        _ro("revision_number", INTEGER, True, v.to_db_int),
    )


# standard-attr-tag: the sorted tags shown on each resource, changed only through its
# /tags URLs; the filters take comma-separated tags: `tags` (has all of them), `tags-any`
# (has one), `not-tags` (lacks one of them), `not-tags-any` (has none).
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _tags() -> tuple[Attribute, ...]:
    return (
        Attribute("tags", ARRAY, v.tags, filter=True, description="Tags (sorted)"),
        *(Attribute(name, STRING, filter=True, visible=False) for name in TAG_FILTERS[1:]),
    )


NETWORK = Resource("network", "networks", (
    _id(), _name(),
    _ro("subnets", ARRAY),
    _bool_attr("admin_state_up", True),
    _ro("status", filter_=True),
    *_project(),
    _bool_attr("shared", False, enforce_policy=True),
    _ro("mtu", INTEGER, True, v.to_db_int),
    _text("provider:network_type", 32, filter=True, enforce_policy=True, nullable=True),
    _text("provider:physical_network", 64, filter=True, enforce_policy=True,
          nullable=True),
    Attribute("provider:segmentation_id", INTEGER, v.int_or_none, UNSET, True, True,
              filter=True, convert_filter=v.to_db_int, enforce_policy=True, nullable=True),
    # multi-provider: the network's segments (Neutrino networks have one).
    Attribute("segments", ARRAY, v.segments, UNSET, True, True, enforce_policy=True,
              nullable=True),
    _bool_attr("router:external", False, enforce_policy=True),
    Attribute("availability_zone_hints", ARRAY, v.name_list(255), [], True, False),
    _ro("availability_zones", ARRAY),
    _text("dns_domain", 255, "", make=v.dns_domain_name),
    # port-security: what the network's new ports get unless they say.
    _bool_attr("port_security_enabled", True),
    *_standard(),
    *_tags(),
), lambda id_: exc.NetworkNotFound(net_id=id_), description="Layer 2 network")

_IPV6_MODES = ["dhcpv6-stateful", "dhcpv6-stateless", "slaac"]

SUBNET = Resource("subnet", "subnets", (
    _id(), _name(),
    Attribute("ip_version", INTEGER, v.values([4, 6], v.to_int), REQUIRED, True, False,
              filter=True, convert_filter=v.to_db_int),
    Attribute("network_id", STRING, v.uuid_, REQUIRED, True, False, filter=True),
    Attribute("cidr", STRING, v.subnet_or_none, UNSET, True, False, filter=True),
    Attribute("gateway_ip", STRING, v.ip_address_or_none, UNSET, True, True, filter=True,
              nullable=True),
    Attribute("allocation_pools", ARRAY, v.ip_pools, UNSET, True, True),
    Attribute("dns_nameservers", ARRAY, v.nameservers, UNSET, True, True),
    Attribute("host_routes", ARRAY, v.hostroutes, UNSET, True, True),
    *_project(),
    _bool_attr("enable_dhcp", True),
    Attribute("ipv6_ra_mode", STRING, v.values_or_none(_IPV6_MODES), UNSET, True, False,
              filter=True, nullable=True),
    Attribute("ipv6_address_mode", STRING, v.values_or_none(_IPV6_MODES), UNSET, True,
              False, filter=True, nullable=True),
    # Not shown; filters subnets by their network's `shared`.
    _bool_attr("shared", post=False, put=False, visible=False),
    *_standard(),
    *_tags(),
), lambda id_: exc.SubnetNotFound(subnet_id=id_), description="Layer 3 subnet")

VNIC_TYPES = ["normal", "direct", "macvtap", "baremetal", "direct-physical",
               "virtio-forwarder", "smart-nic", "vdpa", "remote-managed"]

PORT = Resource("port", "ports", (
    _id(), _name(),
    Attribute("network_id", STRING, v.uuid_, REQUIRED, True, False, filter=True),
    _bool_attr("admin_state_up", True),
    Attribute("mac_address", STRING, v.mac_address, UNSET, True, True, filter=True,
              enforce_policy=True),
    Attribute("fixed_ips", ARRAY, v.fixed_ips, UNSET, True, True, filter=True,
              enforce_policy=True),
    _text("device_id", 255, "", filter=True),
    _text("device_owner", 255, "", filter=True, enforce_policy=True),
    *_project(),
    _ro("status", filter_=True),
    # null (what Nova sends on server delete) or "" unbinds the port.
    _text("binding:host_id", 255, filter=True, enforce_policy=True, nullable=True,
          make=v.safe_string_or_none),
    _ro("binding:vif_type", enforce_policy=True),
    _ro("binding:vif_details", OBJECT, enforce_policy=True),
    Attribute("binding:vnic_type", STRING, v.values(VNIC_TYPES), "normal", True, True,
              filter=True, enforce_policy=True, max_length=64),
    Attribute("binding:profile", OBJECT, v.dict_or_none, UNSET, True, True,
              enforce_policy=True, nullable=True),
    Attribute("extra_dhcp_opts", ARRAY, v.extra_dhcp_opts, UNSET, True, True,
              nullable=True),
    _text("dns_name", 255, "", make=v.dns_host_name),
    _ro("dns_assignment", ARRAY),
    # security-group: omitted, the project's default group (none for network:* ports).
    Attribute("security_groups", ARRAY, v.uuid_list, UNSET, True, True, filter=True),
    # port-security: omitted, the network's setting.
    _bool_attr("port_security_enabled", enforce_policy=True),
    Attribute("allowed_address_pairs", ARRAY, v.allowed_address_pairs, UNSET, True, True,
              enforce_policy=True, nullable=True),
    *_standard(),
    *_tags(),
), lambda id_: exc.PortNotFound(port_id=id_), description="Network port")

SECURITY_GROUP = Resource("security_group", "security_groups", (
    _id(),
    Attribute("name", STRING, v.sg_name(255), "", True, True, filter=True, max_length=255),
    *_project(),
    _bool_attr("stateful", True),
    _ro("security_group_rules", ARRAY),
    *_standard(),
), lambda id_: exc.SecurityGroupNotFound(id=id_), description="Security group",
    url="security-groups")


def _port(name: str) -> Attribute:
    return Attribute(name, INTEGER, v.sg_port, None, True, False, filter=True,
                     convert_filter=v.to_db_int, nullable=True)


SECURITY_GROUP_RULE = Resource("security_group_rule", "security_group_rules", (
    _id(),
    Attribute("security_group_id", STRING, v.uuid_, REQUIRED, True, False, filter=True),
    Attribute("remote_group_id", STRING, v.uuid_or_none, None, True, False, filter=True,
              nullable=True),
    Attribute("direction", STRING, v.values([c.INGRESS, c.EGRESS]), REQUIRED, True, False,
              filter=True),
    Attribute("protocol", STRING, v.sg_protocol, None, True, False, filter=True,
              nullable=True),
    _port("port_range_min"),
    _port("port_range_max"),
    Attribute("ethertype", STRING, v.ethertype, c.IPV4, True, False, filter=True),
    Attribute("remote_ip_prefix", STRING, v.ip_prefix, None, True, False, filter=True,
              nullable=True),
    *_project(),
    # A rule changes only its description (the rest is deleted and created again).
    *_standard(),
), lambda id_: exc.SecurityGroupRuleNotFound(id=id_), description="Security group rule",
    url="security-group-rules")

AGENT = Resource("agent", "agents", (
    _id(),
    _ro("agent_type", filter_=True),
    _ro("binary", filter_=True),
    _ro("topic", filter_=True),
    _ro("host", filter_=True),
    _bool_attr("admin_state_up", post=False, put=True),
    _ro("alive", BOOLEAN, True, v.to_boolean),
    _ro("created_at"),
    _ro("started_at"),
    _ro("heartbeat_timestamp"),
    _ro("configurations", OBJECT),
    Attribute("description", STRING, v.string_or_none(255), UNSET, False, True,
              filter=True, nullable=True),
    _ro("availability_zone", filter_=True, nullable=True),
    _ro("resources_synced", BOOLEAN, nullable=True),
), lambda id_: exc.AgentNotFound(id=id_), owned=False, description="Agent")

AVAILABILITY_ZONE = Resource("availability_zone", "availability_zones", (
    _ro("name", filter_=True),
    _ro("resource", filter_=True),
    _ro("state", filter_=True),
), lambda id_: exc.NotFound(f"Availability zone {id_} could not be found."), owned=False,
    description="Availability zone", primary_key="name")

# The body of PUT /v2.0/quotas/{project_id}: one limit per resource Neutrino has, from -1
# (unlimited) to the database's largest integer. Not a collection like the others.
DB_INTEGER_MAX_VALUE = 2 ** 31 - 1
QUOTA = Resource("quota", "quotas", tuple(
    Attribute(name, INTEGER, v.int_range(-1, DB_INTEGER_MAX_VALUE), UNSET, False, True)
    for name in ("network", "subnet", "port", "security_group", "security_group_rule")
), lambda id_: exc.TenantQuotaNotFound(tenant_id=id_), owned=False,
    description="Per-project quota")

# The resources that carry tags, by the collection name their /tags URLs start with.
TAGGABLE: dict[str, Resource] = {r.plural: r for r in (NETWORK, SUBNET, PORT)}

RESOURCES: dict[str, Resource] = {r.plural: r for r in (
    NETWORK, SUBNET, PORT, AGENT, AVAILABILITY_ZONE, SECURITY_GROUP, SECURITY_GROUP_RULE)}
