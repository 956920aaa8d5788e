"""The initial schema: exactly neutrino.db.models as first released.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_timestamp", sa.DateTime(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("configurations", sa.Text(), nullable=False),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.Column("resources_synced", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_type", "host", name="uniq_agents0agent_type0host"),
    )
    op.create_index("ix_agents_heartbeat_timestamp", "agents", ["heartbeat_timestamp"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("dns_domain", sa.String(length=255), nullable=False),
        sa.Column("availability_zone_hints", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_networks_project_id", "networks", ["project_id"])
    op.create_table(
        "network_segments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("network_type", sa.String(length=32), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=True),
        sa.Column("segmentation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "network_type",
            "physical_network",
            "segmentation_id",
            name="uniq_segments0type0physnet0segid",
        ),
    )
    op.create_index("ix_network_segments_network_id", "network_segments", ["network_id"])
    op.create_table(
        "networkdhcpagentbindings",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("dhcp_agent_id", sa.String(length=36), nullable=False),
        sa.Column("binding_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dhcp_agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("network_id", "dhcp_agent_id"),
        sa.UniqueConstraint(
            "network_id", "binding_index", name="uniq_network_dhcp_agent_binding0network0index"
        ),
    )
    op.create_index(
        "ix_networkdhcpagentbindings_dhcp_agent_id", "networkdhcpagentbindings", ["dhcp_agent_id"]
    )
    op.create_table(
        "ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("dns_name", sa.String(length=255), nullable=False),
        sa.Column("host_id", sa.String(length=255), nullable=False),
        sa.Column("vnic_type", sa.String(length=64), nullable=False),
        sa.Column("vif_type", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("vif_details", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("network_id", "mac_address", name="uniq_ports0network_id0mac_address"),
    )
    op.create_index("ix_ports_device_id", "ports", ["device_id"])
    op.create_index("ix_ports_host_id", "ports", ["host_id"])
    op.create_index("ix_ports_network_id", "ports", ["network_id"])
    op.create_index("ix_ports_project_id", "ports", ["project_id"])
    op.create_table(
        "subnets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(length=16), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(length=16), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subnets_network_id", "subnets", ["network_id"])
    op.create_index("ix_subnets_project_id", "subnets", ["project_id"])
    op.create_table(
        "dnsnameservers",
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address", "subnet_id"),
    )
    op.create_table(
        "extradhcpopts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("opt_name", sa.String(length=64), nullable=False),
        sa.Column("opt_value", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "port_id", "opt_name", "ip_version", name="uniq_extradhcpopts0port0name0version"
        ),
    )
    op.create_table(
        "ipallocationpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("first_ip", sa.String(length=64), nullable=False),
        sa.Column("last_ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ipallocationpools_subnet_id", "ipallocationpools", ["subnet_id"])
    op.create_table(
        "ipallocations",
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ip_address", "subnet_id"),
    )
    op.create_index("ix_ipallocations_network_id", "ipallocations", ["network_id"])
    op.create_index("ix_ipallocations_port_id", "ipallocations", ["port_id"])
    op.create_table(
        "provisioningblocks",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("port_id", "entity"),
    )
    op.create_table(
        "subnetroutes",
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("nexthop", sa.String(length=64), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("destination", "nexthop", "subnet_id"),
    )


def downgrade() -> None:
    op.drop_table("subnetroutes")
    op.drop_table("provisioningblocks")
    op.drop_table("ipallocations")
    op.drop_table("ipallocationpools")
    op.drop_table("extradhcpopts")
    op.drop_table("dnsnameservers")
    op.drop_table("subnets")
    op.drop_table("ports")
    op.drop_table("networkdhcpagentbindings")
    op.drop_table("network_segments")
    op.drop_table("networks")
    op.drop_table("leases")
    op.drop_table("agents")
