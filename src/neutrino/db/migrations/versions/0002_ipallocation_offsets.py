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
_FK_INDEX = "ipallocations_subnet_id_fk"


def _offset(ip: str, cidr: str) -> int | None:
    value = int(ipaddress.ip_address(ip)) - int(ipaddress.ip_network(cidr, strict=False)
                                               .network_address)
    return value if 0 <= value <= _MAX_OFFSET else None


def upgrade() -> None:
    op.add_column("ipallocations", sa.Column("ip_offset", sa.BigInteger(), nullable=True))
    op.create_index("ix_ipallocations_subnet_id_ip_offset", "ipallocations",
                    ["subnet_id", "ip_offset"])
    conn = op.get_bind()
    if conn.dialect.name in ("mysql", "mariadb"):
        # A downgrade left an index for the subnet_id foreign key; the new one serves it.
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("ipallocations")}
        if _FK_INDEX in names:
            op.drop_index(_FK_INDEX, table_name="ipallocations")
    # Existing addresses get their offsets (this runs once).
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
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # InnoDB dropped its own index for the subnet_id foreign key when the composite
        # index took over; the foreign key needs one back before that goes.
        op.create_index(_FK_INDEX, "ipallocations", ["subnet_id"])
    op.drop_index("ix_ipallocations_subnet_id_ip_offset", table_name="ipallocations")
    op.drop_column("ipallocations", "ip_offset")
