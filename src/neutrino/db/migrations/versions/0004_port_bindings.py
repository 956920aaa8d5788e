"""port_bindings: the inactive bindings of ports (binding-extended, live migration).

Revision ID: 0004_port_bindings
Revises: 0003_nova_events
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_port_bindings"
down_revision = "0003_nova_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "port_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("vnic_type", sa.String(length=64), nullable=False),
        sa.Column("vif_type", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("vif_details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("port_id", "host"),
    )


def downgrade() -> None:
    op.drop_table("port_bindings")
