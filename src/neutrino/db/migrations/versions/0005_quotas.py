"""quotas: per-project limits (Neutron's table) and quotausages, the per-(project,
resource) rows that creates lock while they count.

Revision ID: 0005_quotas
Revises: 0004_port_bindings
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_quotas"
down_revision = "0004_port_bindings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.UniqueConstraint("project_id", "resource", name="uniq_quotas0project_id0resource"),
    )
    op.create_index("ix_quotas_project_id", "quotas", ["project_id"])
    op.create_table(
        "quotausages",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("resource", sa.String(255), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("quotausages")
    op.drop_index("ix_quotas_project_id", table_name="quotas")
    op.drop_table("quotas")
