"""IMAP SAVEDATE (RFC 8514): messages keep when they were saved in their
mailbox.

`messages.saved_at` is set by APPEND, COPY and MOVE (and local delivery);
rows saved before this revision keep NULL, and FETCH SAVEDATE answers NIL
for them (RFC 8514 §3).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("saved_at")
