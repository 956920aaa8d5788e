"""novaevents: the outbox of events for Nova's os-server-external-events API.

Revision ID: 0003_nova_events
Revises: 0002_ipallocation_offsets
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_nova_events"
down_revision = "0002_ipallocation_offsets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "novaevents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("server_uuid", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim_token", sa.String(36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_novaevents_next_attempt_at", "novaevents", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_novaevents_next_attempt_at", table_name="novaevents")
    op.drop_table("novaevents")
