"""ports (network_id, id): a page of one network's ports in id order (the API's default
sort) is read straight from this index, with no sort of the network's every port.

Revision ID: 0007_ports_page_index
Revises: 0006_revoked_tokens
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007_ports_page_index"
down_revision = "0006_revoked_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ports_network_id_id", "ports", ["network_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ports_network_id_id", table_name="ports")
