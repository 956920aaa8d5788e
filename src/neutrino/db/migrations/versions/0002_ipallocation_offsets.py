"""ipallocations.ip_offset: each address as an integer offset into its subnet, indexed
with the subnet, so the lowest free address is found in the database.

Revision ID: 0002_ipallocation_offsets
Revises: 0001_initial
Create Date: 2026-11-25
"""

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0002_ipallocation_offsets"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_MAX_OFFSET = 2 ** 63 - 1
_BATCH = 1000


def _offset(ip: str, cidr: str) -> int | None:
    value = int(ipaddress.ip_address(ip)) - int(ipaddress.ip_network(cidr, strict=False)
                                               .network_address)
    return value if 0 <= value <= _MAX_OFFSET else None


def upgrade() -> None:
    op.add_column("ipallocations", sa.Column("ip_offset", sa.BigInteger(), nullable=True))
    op.create_index("ix_ipallocations_subnet_id_ip_offset", "ipallocations",
                    ["subnet_id", "ip_offset"])
    # Existing addresses get their offsets (a deployment's allocations fit in memory a
    # batch at a time; this runs once).
    conn = op.get_bind()
    alloc = sa.table("ipallocations", sa.column("ip_address", sa.String),
                     sa.column("subnet_id", sa.String), sa.column("ip_offset", sa.BigInteger))
    subnets = sa.table("subnets", sa.column("id", sa.String), sa.column("cidr", sa.String))
    rows = conn.execute(sa.select(alloc.c.ip_address, alloc.c.subnet_id, subnets.c.cidr)
                        .join(subnets, subnets.c.id == alloc.c.subnet_id)).all()
    updates = [{"ip": ip, "sid": sid, "off": _offset(ip, cidr)} for ip, sid, cidr in rows]
    stmt = (sa.update(alloc)
            .where(alloc.c.ip_address == sa.bindparam("ip"),
                   alloc.c.subnet_id == sa.bindparam("sid"))
            .values(ip_offset=sa.bindparam("off")))
    for start in range(0, len(updates), _BATCH):
        conn.execute(stmt, updates[start:start + _BATCH])


def downgrade() -> None:
    op.drop_index("ix_ipallocations_subnet_id_ip_offset", table_name="ipallocations")
    op.drop_column("ipallocations", "ip_offset")
