"""The database schema. Unique constraints here are what settle races between server
replicas: duplicate IPs, double scheduling and duplicate VLANs fail in the database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ID = String(36)
NAME = String(255)
PROJECT = String(255)
# A tag compares exactly on every backend: MariaDB's default collations would make "Red",
# "red" and "red " one tag (in the unique constraint and in filters), so its column is
# binary without padding there.
TAG = String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_nopad_bin"),
                               "mysql", "mariadb")


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here declares __tablename__, so what it maps is a Table (SQLAlchemy
        # types it as any FromClause).
        __table__: ClassVar[Table]


class StandardAttrs:
    """created_at/updated_at/revision_number/description, as Neutron's standard attributes."""

    description: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    revision_number: Mapped[int] = mapped_column(Integer, default=1, nullable=False)


class Network(StandardAttrs, Base):
    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    name: Mapped[str] = mapped_column(NAME, default="", nullable=False)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    mtu: Mapped[int] = mapped_column(Integer, nullable=False)
    dns_domain: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    # JSON list of availability zone names.
    availability_zone_hints: Mapped[str] = mapped_column(String(255), default="[]",
                                                         nullable=False)
    # Bumped in the transaction of every change a DHCP agent serves (the network, its
    # subnets, its ports): agents compare it with what they applied to find missed casts.
    dhcp_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0",
                                               nullable=False)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True,
                                                        nullable=False)

    segments: Mapped[list[NetworkSegment]] = relationship(
        back_populates="network", cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin")
    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network", cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin", order_by="Subnet.id")
    tags: Mapped[list[Tag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")


class NetworkSegment(Base):
    __tablename__ = "network_segments"
    # One network per VLAN on a physical network; flat networks use segmentation_id 0 so the
    # same constraint keeps one flat network per physical network.
    __table_args__ = (UniqueConstraint("network_type", "physical_network", "segmentation_id",
                                       name="uniq_segments0type0physnet0segid"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"), index=True, nullable=False)
    network_type: Mapped[str] = mapped_column(String(32), nullable=False)
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)

    network: Mapped[Network] = relationship(back_populates="segments")


class Subnet(StandardAttrs, Base):
    __tablename__ = "subnets"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(NAME, default="", nullable=False)
    ip_version: Mapped[int] = mapped_column(Integer, nullable=False)
    cidr: Mapped[str] = mapped_column(String(64), nullable=False)
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(16))
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(16))

    network: Mapped[Network] = relationship(back_populates="subnets")
    allocation_pools: Mapped[list[IPAllocationPool]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="IPAllocationPool.first_ip")
    dns_nameservers: Mapped[list[DNSNameServer]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="DNSNameServer.order")
    host_routes: Mapped[list[SubnetRoute]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    tags: Mapped[list[Tag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")


class IPAllocationPool(Base):
    __tablename__ = "ipallocationpools"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    subnet_id: Mapped[str] = mapped_column(
        ID, ForeignKey("subnets.id", ondelete="CASCADE"), index=True, nullable=False)
    first_ip: Mapped[str] = mapped_column(String(64), nullable=False)
    last_ip: Mapped[str] = mapped_column(String(64), nullable=False)


class DNSNameServer(Base):
    __tablename__ = "dnsnameservers"

    address: Mapped[str] = mapped_column(String(128), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(
        ID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True)
    order: Mapped[int] = mapped_column(Integer, nullable=False)


class SubnetRoute(Base):
    __tablename__ = "subnetroutes"

    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    nexthop: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(
        ID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True)


class Port(StandardAttrs, Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address",
                                       name="uniq_ports0network_id0mac_address"),
                      # A page of one network's ports in id order, without a sort.
                      Index("ix_ports_network_id_id", "network_id", "id"))

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(NAME, default="", nullable=False)
    mac_address: Mapped[str] = mapped_column(String(32), nullable=False)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True,
                                           nullable=False)
    device_owner: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    dns_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    host_id: Mapped[str] = mapped_column(String(255), default="", index=True, nullable=False)
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal", nullable=False)
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound", nullable=False)
    profile: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON
    vif_details: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True,
                                                        nullable=False)
    # The port's groups, sorted and comma-separated: what its dict shows, read with the row
    # (a list of ports loads no membership rows). securitygroupportbindings holds the same
    # membership for integrity and for the queries by group; both change together
    # (core/resources/portsecurity.py).
    security_group_ids: Mapped[str] = mapped_column(Text, default="", nullable=False)

    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        order_by="IPAllocation.ip_address")
    extra_dhcp_opts: Mapped[list[ExtraDhcpOpt]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    tags: Mapped[list[Tag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    allowed_address_pairs: Mapped[list[AllowedAddressPair]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    # Not shown in a port's dict: loaded only when asked for, never with every port read.
    provisioning_blocks: Mapped[list[ProvisioningBlock]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="select")


class Tag(Base):
    """A tag of one network, subnet or port (standard-attr-tag): exactly one of the three
    ids is set. The row goes with its resource (ON DELETE CASCADE); the unique constraints
    keep a tag once per resource and are the indexes the tag filters' subqueries use."""

    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("network_id", "tag", name="uniq_tags0network_id0tag"),
        UniqueConstraint("subnet_id", "tag", name="uniq_tags0subnet_id0tag"),
        UniqueConstraint("port_id", "tag", name="uniq_tags0port_id0tag"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    network_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"))
    subnet_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("subnets.id", ondelete="CASCADE"))
    port_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(TAG, nullable=False)


class PortBinding(Base):
    """An inactive binding of a port (binding-extended): the destination host of a live
    migration until it is activated. The active binding stays on the port's own row, so
    everything that reads ports (agents, DHCP, views) is unchanged; the primary key keeps
    one binding per (port, host)."""

    __tablename__ = "port_bindings"

    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal", nullable=False)
    vif_type: Mapped[str] = mapped_column(String(64), nullable=False)
    profile: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON
    vif_details: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON


class IPAllocation(Base):
    """One IP of a port. The primary key makes a duplicate IP on a subnet impossible."""

    __tablename__ = "ipallocations"
    # Free addresses are found in the database by walking this index (see core/ipam.py).
    __table_args__ = (Index("ix_ipallocations_subnet_id_ip_offset", "subnet_id", "ip_offset"),)

    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(
        ID, ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True)
    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), index=True, nullable=False)
    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"), index=True, nullable=False)
    # The address minus the subnet's network address, so the lowest free address is one
    # indexed query however many are taken. NULL when it does not fit 63 bits (far into an
    # IPv6 subnet); such addresses are still guarded by the primary key.
    ip_offset: Mapped[int | None] = mapped_column(BigInteger)


class ExtraDhcpOpt(Base):
    __tablename__ = "extradhcpopts"
    __table_args__ = (UniqueConstraint("port_id", "opt_name", "ip_version",
                                       name="uniq_extradhcpopts0port0name0version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), nullable=False)
    opt_name: Mapped[str] = mapped_column(String(64), nullable=False)
    opt_value: Mapped[str] = mapped_column(String(255), nullable=False)
    ip_version: Mapped[int] = mapped_column(Integer, default=4, nullable=False)


class ProvisioningBlock(Base):
    """A component (DHCP, L2) that has yet to wire a port; the port is ACTIVE with none."""

    __tablename__ = "provisioningblocks"

    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("agent_type", "host", name="uniq_agents0agent_type0host"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255), nullable=False)
    binary: Mapped[str] = mapped_column(String(255), nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(DateTime, index=True, nullable=False)
    description: Mapped[str | None] = mapped_column(String(255))
    configurations: Mapped[str] = mapped_column(Text, default="{}", nullable=False)  # JSON
    load: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    resources_synced: Mapped[bool | None] = mapped_column(Boolean)


class NetworkDhcpAgentBinding(Base):
    """(network, binding_index) is unique so two servers cannot bind more agents than asked."""

    __tablename__ = "networkdhcpagentbindings"
    __table_args__ = (UniqueConstraint("network_id", "binding_index",
                                       name="uniq_network_dhcp_agent_binding0network0index"),)

    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    dhcp_agent_id: Mapped[str] = mapped_column(
        ID, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True)
    binding_index: Mapped[int] = mapped_column(Integer, default=1, nullable=False)


class Lease(Base):
    """A named, expiring lock held through the database: one actor for cluster-wide jobs
    (the DHCP HA monitor) however many server replicas run."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class NovaEvent(Base):
    """An event for Nova's os-server-external-events API, written in the transaction of the
    port change that causes it (an outbox): a sender in any server replica claims it
    (`claim_token` until `claimed_until`), posts it, and deletes it once Nova has it."""

    __tablename__ = "novaevents"
    # Senders look for due, unclaimed events in id (= recording) order.
    __table_args__ = (Index("ix_novaevents_next_attempt_at", "next_attempt_at"),)

    # Autoincrement: the order events were recorded in, the order Nova gets them in.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    server_uuid: Mapped[str] = mapped_column(String(255), nullable=False)
    tag: Mapped[str] = mapped_column(ID, nullable=False)  # the port's id
    status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)


class DhcpCast(Base):
    """A cast to a DHCP agent, written in the transaction of the change it tells of: the
    replica that committed sends it at once; if that replica dies first, or the broker
    takes the cast down with a connection, a sweeper in any replica sends it again once it
    is `created_at` + a grace old. Deleted once sent."""

    __tablename__ = "dhcpcasts"
    __table_args__ = (Index("ix_dhcpcasts_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    method: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class Quota(Base):
    """A project's own limit for one resource (Neutron's table); absent: the [quotas]
    default applies."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource",
                                       name="uniq_quotas0project_id0resource"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    resource: Mapped[str] = mapped_column(String(255), nullable=False)
    limit: Mapped[int] = mapped_column(Integer, nullable=False)


class QuotaUsage(Base):
    """One row per (project, resource) that creates lock FOR UPDATE before counting: the
    count and the inserts it allows then happen one creator at a time, on every replica.
    Usage itself is always counted from the resource tables, never stored here."""

    __tablename__ = "quotausages"

    project_id: Mapped[str] = mapped_column(PROJECT, primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)


class RevokedToken(Base):
    """A builtin identity token revoked before its expiry (`DELETE /v3/auth/tokens`), by
    its audit id; kept until the token would have expired anyway, then pruned."""

    __tablename__ = "revoked_tokens"

    audit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True, nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "securitygroups"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    name: Mapped[str] = mapped_column(NAME, default="", nullable=False)
    stateful: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    rules: Mapped[list[SecurityGroupRule]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin",
        foreign_keys="SecurityGroupRule.security_group_id", order_by="SecurityGroupRule.id")


class SecurityGroupRule(StandardAttrs, Base):
    """A rule goes with its group, and with the group its `remote_group_id` names."""

    __tablename__ = "securitygrouprules"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(PROJECT, index=True, nullable=False)
    security_group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True, nullable=False)
    remote_group_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16), nullable=False)
    ethertype: Mapped[str] = mapped_column(String(40), nullable=False)
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255))


class DefaultSecurityGroup(Base):
    """Each project's `default` group. The primary key is what keeps it one per project
    when two server replicas create it for the same project's first request at once."""

    __tablename__ = "defaultsecuritygroups"

    project_id: Mapped[str] = mapped_column(PROJECT, primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("securitygroups.id", ondelete="CASCADE"), unique=True,
        nullable=False)


class SecurityGroupPortBinding(Base):
    """A port's membership of a group. No cascade from the group: a group with ports
    cannot be deleted, also against a port joining it concurrently."""

    __tablename__ = "securitygroupportbindings"

    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("securitygroups.id"), primary_key=True, index=True)


class AllowedAddressPair(Base):
    __tablename__ = "allowedaddresspairs"

    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    mac_address: Mapped[str] = mapped_column(String(32), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
