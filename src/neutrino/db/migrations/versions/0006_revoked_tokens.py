"""revoked_tokens: builtin identity tokens revoked before they expire, shared by every
server replica.

Revision ID: 0006_revoked_tokens
Revises: 0005_quotas
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_revoked_tokens"
down_revision = "0005_quotas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("audit_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_tokens_expires_at", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
