"""DHCP convergence: networks.dhcp_revision, bumped with every change a DHCP agent serves,
and dhcpcasts, the casts to DHCP agents written with the change they tell of.

Revision ID: 0009_dhcp_convergence
Revises: 0008_tags
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_dhcp_convergence"
down_revision = "0008_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("networks", sa.Column("dhcp_revision", sa.BigInteger(), nullable=False,
                                        server_default="0"))
    op.create_table(
        "dhcpcasts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_dhcpcasts_created_at", "dhcpcasts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_dhcpcasts_created_at", table_name="dhcpcasts")
    op.drop_table("dhcpcasts")
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("dhcp_revision")
