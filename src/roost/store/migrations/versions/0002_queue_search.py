"""Queue search: each recipient's domain, and indexes for filtering by sender and domain.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_recipients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("domain", sa.String(length=253), nullable=False, server_default="")
        )
        batch_op.create_index("ix_queue_recipients_domain", ["domain"], unique=False)
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index("ix_queue_entries_sender", ["sender"], unique=False)
    recipients = sa.table(
        "queue_recipients",
        sa.column("id", sa.BigInteger),
        sa.column("address", sa.String),
        sa.column("domain", sa.String),
    )
    conn = op.get_bind()
    for row in conn.execute(sa.select(recipients.c.id, recipients.c.address)).all():
        domain = row.address.rpartition("@")[2].lower()
        conn.execute(recipients.update().where(recipients.c.id == row.id).values(domain=domain))


def downgrade() -> None:
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_entries_sender")
    with op.batch_alter_table("queue_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_recipients_domain")
        batch_op.drop_column("domain")
