"""User settings (display name, signature, reply-to, time zone, vacation) and the
vacation replies sent.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_settings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("vacation_enabled", sa.Boolean(), nullable=False),
        sa.Column("vacation_start", sa.Date(), nullable=True),
        sa.Column("vacation_end", sa.Date(), nullable=True),
        sa.Column("vacation_subject", sa.Text(), nullable=False),
        sa.Column("vacation_text", sa.Text(), nullable=False),
        sa.Column("vacation_period_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "vacation_replies",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "sender"),
    )


def downgrade() -> None:
    op.drop_table("vacation_replies")
    op.drop_table("user_settings")
