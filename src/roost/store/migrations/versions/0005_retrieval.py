"""Retrieval: users' external accounts, their fetched keys and status.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrieval_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("tls", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("folder", sa.String(length=1000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("leave_on_server", sa.Boolean(), nullable=False),
        sa.Column("remote_folders", sa.Text(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_fetched", sa.Integer(), nullable=False),
        sa.Column("total_fetched", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("run_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_retrieval_accounts_account_id", "retrieval_accounts", ["account_id"], unique=False
    )
    op.create_table(
        "retrieval_pop_keys",
        sa.Column("retrieval_id", sa.Integer(), nullable=False),
        sa.Column("uidl", sa.String(length=70), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["retrieval_id"], ["retrieval_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("retrieval_id", "uidl"),
    )
    op.create_table(
        "retrieval_imap_keys",
        sa.Column("retrieval_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=1000), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["retrieval_id"], ["retrieval_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("retrieval_id", "folder", "uidvalidity", "uid"),
    )


def downgrade() -> None:
    op.drop_table("retrieval_imap_keys")
    op.drop_table("retrieval_pop_keys")
    op.drop_index("ix_retrieval_accounts_account_id", table_name="retrieval_accounts")
    op.drop_table("retrieval_accounts")
