"""tags: standard-attr-tag's tags of networks, subnets and ports.

Revision ID: 0008_tags
Revises: 0007_ports_page_index
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008_tags"
down_revision = "0007_ports_page_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("network_id", sa.String(36),
                  sa.ForeignKey("networks.id", ondelete="CASCADE")),
        sa.Column("subnet_id", sa.String(36),
                  sa.ForeignKey("subnets.id", ondelete="CASCADE")),
        sa.Column("port_id", sa.String(36), sa.ForeignKey("ports.id", ondelete="CASCADE")),
        # Exact comparison on MariaDB too (see db/models.py).
        sa.Column("tag", sa.String(255).with_variant(
            mysql.VARCHAR(255, collation="utf8mb4_nopad_bin"), "mysql", "mariadb"),
            nullable=False),
        sa.UniqueConstraint("network_id", "tag", name="uniq_tags0network_id0tag"),
        sa.UniqueConstraint("subnet_id", "tag", name="uniq_tags0subnet_id0tag"),
        sa.UniqueConstraint("port_id", "tag", name="uniq_tags0port_id0tag"),
    )


def downgrade() -> None:
    op.drop_table("tags")
