"""networks.dhcp_revision: bumped with every change a DHCP agent serves.

Revision ID: 0009_dhcp_revision
Revises: 0008_tags
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_dhcp_revision"
down_revision = "0008_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("networks", sa.Column("dhcp_revision", sa.BigInteger(), nullable=False,
                                        server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("dhcp_revision")
