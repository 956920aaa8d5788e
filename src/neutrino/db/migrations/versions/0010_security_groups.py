"""security groups: groups, rules, each project's default group, ports' memberships,
port security on networks and ports, allowed address pairs.

Revision ID: 0010_security_groups
Revises: 0009_dhcp_convergence
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_security_groups"
down_revision = "0009_dhcp_convergence"
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("description", sa.String(255), nullable=False, server_default=""),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("revision_number", sa.Integer, nullable=False, server_default="1")]


def upgrade() -> None:
    for table in ("networks", "ports"):
        op.add_column(table, sa.Column("port_security_enabled", sa.Boolean, nullable=False,
                                       server_default=sa.true()))
    op.add_column("ports", sa.Column("security_group_ids", sa.Text, nullable=False,
                                     server_default=""))
    op.create_table(
        "securitygroups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("stateful", sa.Boolean, nullable=False, server_default=sa.true()),
        *_standard(),
    )
    op.create_table(
        "securitygrouprules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False, index=True),
        sa.Column("security_group_id", sa.String(36),
                  sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("remote_group_id", sa.String(36),
                  sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("ethertype", sa.String(40), nullable=False),
        sa.Column("protocol", sa.String(40)),
        sa.Column("port_range_min", sa.Integer),
        sa.Column("port_range_max", sa.Integer),
        sa.Column("remote_ip_prefix", sa.String(255)),
        *_standard(),
    )
    op.create_table(
        "defaultsecuritygroups",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("security_group_id", sa.String(36),
                  sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
    )
    op.create_table(
        "securitygroupportbindings",
        sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("security_group_id", sa.String(36), sa.ForeignKey("securitygroups.id"),
                  primary_key=True, index=True),
    )
    op.create_table(
        "allowedaddresspairs",
        sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("mac_address", sa.String(32), primary_key=True),
        sa.Column("ip_address", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    for table in ("allowedaddresspairs", "securitygroupportbindings",
                  "defaultsecuritygroups", "securitygrouprules", "securitygroups"):
        op.drop_table(table)
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("security_group_ids")
    for table in ("ports", "networks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("port_security_enabled")
