"""The one schema every backend shares (SQLAlchemy Core).

Tables are grouped by the role that owns them. This module describes the
current schema for queries; `migrations/` holds its history, which is what
creates and upgrades a database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps it naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def raw_timestamp(column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    """A `UtcDateTime` column read as the driver gives it, for queries that
    return thousands of rows: SQLAlchemy's own conversion of SQLite's text
    costs several times Python's `datetime.fromisoformat`. Decode the value
    with `utc_timestamp`."""
    return sa.type_coerce(column, sa.types.NullType()).label(name)


def utc_timestamp(value: str | datetime) -> datetime:
    """A value read through `raw_timestamp`: SQLite's text or PostgreSQL's
    aware datetime, as an aware UTC datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

TS = UtcDateTime()

# --- counters: global sequences allocated inside the transaction that uses them

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# --- Directory

domains = sa.Table(
    "domains",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(253), nullable=False, unique=True),
    sa.Column("catch_all", sa.String(320)),
    sa.Column("created_at", TS, nullable=False),
)

domain_aliases = sa.Table(
    "domain_aliases",
    metadata,
    sa.Column("name", sa.String(253), primary_key=True),
    sa.Column(
        "domain_id", sa.Integer, sa.ForeignKey("domains.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_at", TS, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("address", sa.String(320), nullable=False, unique=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False, index=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("scram", sa.Text, nullable=False),
    sa.Column("quota_bytes", sa.BigInteger, nullable=False),
    sa.Column("quota_messages", sa.BigInteger, nullable=False),
    sa.Column("used_bytes", sa.BigInteger, nullable=False),
    sa.Column("used_messages", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("address", sa.String(320), nullable=False, unique=True),
    sa.Column("domain_id", sa.Integer, sa.ForeignKey("domains.id"), nullable=False, index=True),
    sa.Column("created_at", TS, nullable=False),
)

alias_targets = sa.Table(
    "alias_targets",
    metadata,
    sa.Column(
        "alias_id", sa.Integer, sa.ForeignKey("aliases.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("target", sa.String(320), primary_key=True),
)

admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("must_change_password", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "admin_id", sa.Integer, sa.ForeignKey("admins.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_used_at", TS),
    sa.UniqueConstraint("admin_id", "name"),
)

admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "admin_id",
        sa.Integer,
        sa.ForeignKey("admins.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("source_address", sa.String(64)),
)
"""Admin console sessions, by the SHA-256 of the cookie's id (the id itself is
never stored): a copy of the database does not hold live sessions."""

admin_totp = sa.Table(
    "admin_totp",
    metadata,
    sa.Column(
        "admin_id", sa.Integer, sa.ForeignKey("admins.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)
"""An admin's two-step sign-in (RFC 6238): the shared secret in base32, whether
it is confirmed, and the last time step used (a code is taken once)."""

# --- Blobs: content-addressed message bytes, reference-counted

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("refs", sa.BigInteger, nullable=False),
    sa.Column("unreferenced_at", TS),
    sa.Column("structure", sa.Text),
    sa.Index("ix_blobs_unreferenced", "unreferenced_at"),
)

blob_chunks = sa.Table(
    "blob_chunks",
    metadata,
    sa.Column(
        "hash", sa.String(64), sa.ForeignKey("blobs.hash", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# --- Mail

mailboxes = sa.Table(
    "mailboxes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("special_use", sa.String(32)),
    sa.Column("subscribed", sa.Boolean, nullable=False),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("uidnext", sa.BigInteger, nullable=False),
    sa.Column("highest_modseq", sa.BigInteger, nullable=False),
    sa.Column("message_count", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("account_id", "name"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("modseq", sa.BigInteger, nullable=False),
    sa.Column("flags", sa.Integer, nullable=False),
    sa.Column("blob_hash", sa.String(64), sa.ForeignKey("blobs.hash"), nullable=False),
    sa.Column("trace", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("internal_date", TS, nullable=False),
    # When the message was saved in this mailbox (RFC 8514); NULL for rows
    # saved before Roost kept it (migration 0012).
    sa.Column("saved_at", TS, nullable=True),
    # The message's conversation (store/mail_list.py, migration 0022); NULL until
    # the webmail threads it.
    sa.Column("thread_key", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("mailbox_id", "uid"),
    sa.Index("ix_messages_mailbox_modseq", "mailbox_id", "modseq"),
)

message_keywords = sa.Table(
    "message_keywords",
    metadata,
    sa.Column(
        "message_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("keyword", sa.String(200), primary_key=True),
)

expunged = sa.Table(
    "expunged",
    metadata,
    sa.Column(
        "mailbox_id",
        sa.Integer,
        sa.ForeignKey("mailboxes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("uid", sa.BigInteger, primary_key=True),
    sa.Column("modseq", sa.BigInteger, nullable=False),
)

maildrop_locks = sa.Table(
    "maildrop_locks",
    metadata,
    sa.Column(
        "mailbox_id",
        sa.Integer,
        sa.ForeignKey("mailboxes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)
"""One POP3 session per mailbox (RFC 1939 §8): a row per mailbox ever locked;
a lock whose `expires_at` has passed is free. `acquired_at` is the last login,
for LOGIN-DELAY (RFC 2449 §6.5)."""

changes = sa.Table(
    "changes",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("mailbox_id", sa.Integer),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("modseq", sa.BigInteger),
    sa.Column("at", TS, nullable=False),
    sa.Index("ix_changes_account", "account_id", "id"),
)

# --- Webmail (store/webmail_sessions.py, store/mail_list.py)

webmail_sessions = sa.Table(
    "webmail_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("password_stamp", sa.String(32), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("source_address", sa.String(64)),
)
"""Webmail sessions of mail users, by the SHA-256 of the cookie's id, apart from
the admin console's: neither cookie can name the other's session."""

chat_tokens = sa.Table(
    "chat_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "session_hash",
        sa.String(64),
        sa.ForeignKey("webmail_sessions.id_hash", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False, index=True),
)
"""Single-use web chat tokens (store/chat_tokens.py), by the SHA-256 of the token;
a webmail session's tokens go with it."""

message_summaries = sa.Table(
    "message_summaries",
    metadata,
    sa.Column(
        "blob_hash",
        sa.String(64),
        sa.ForeignKey("blobs.hash", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("from_text", sa.String(500), nullable=False),
    sa.Column("from_address", sa.String(320), nullable=False),
    sa.Column("from_sort", sa.String(200), nullable=False),
    sa.Column("subject", sa.String(1000), nullable=False),
    sa.Column("subject_sort", sa.String(200), nullable=False),
    sa.Column("sent_at", TS),
    sa.Column("has_attachments", sa.Boolean, nullable=False),
)
"""What the webmail's message list shows of a message and sorts by, decoded once
per blob (content-addressed: a copy or a move needs no new row)."""

sa.Index(
    "ix_messages_mailbox_date", messages.c.mailbox_id, messages.c.internal_date, messages.c.uid
)
sa.Index("ix_messages_mailbox_size", messages.c.mailbox_id, messages.c.size, messages.c.uid)

# Webmail step 2 (migration 0014): the senders whose remote images a user always
# loads, and the indexes that serve a large folder's sender and subject order and
# a message's conversation (summaries in that order, then their messages by blob),
# and the folder list's unread counts.
webmail_image_senders = sa.Table(
    "webmail_image_senders",
    metadata,
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("sender", sa.String(320), primary_key=True),
    sa.Column("created_at", TS, nullable=False),
)
sa.Index(
    "ix_message_summaries_subject_sort",
    message_summaries.c.subject_sort,
    message_summaries.c.blob_hash,
)
sa.Index(
    "ix_message_summaries_from_sort", message_summaries.c.from_sort, message_summaries.c.blob_hash
)
sa.Index("ix_messages_blob_mailbox", messages.c.blob_hash, messages.c.mailbox_id)
sa.Index("ix_messages_mailbox_flags", messages.c.mailbox_id, messages.c.flags)

# Webmail conversations (migration 0022, store/mail_list.py): a folder's messages
# by conversation and date, and the message IDs an account's conversations name.
sa.Index(
    "ix_messages_mailbox_thread",
    messages.c.mailbox_id,
    messages.c.thread_key,
    messages.c.internal_date,
    messages.c.uid,
)
conversation_refs = sa.Table(
    "conversation_refs",
    metadata,
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("ref_hash", sa.String(32), primary_key=True),
    sa.Column("thread_key", sa.BigInteger, nullable=False),
    sa.Index("ix_conversation_refs_thread", "account_id", "thread_key"),
)
"""Each message ID (hashed) that a message of the account named as its own or in
its References, and the conversation it belongs to."""

# --- Queue

queue_entries = sa.Table(
    "queue_entries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("blob_hash", sa.String(64), sa.ForeignKey("blobs.hash"), nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("envid", sa.String(100)),
    sa.Column("ret", sa.String(8)),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_until", TS),
    sa.Index("ix_queue_due", "state", "next_attempt_at"),
    sa.Index("ix_queue_entries_sender", "sender"),
)

queue_recipients = sa.Table(
    "queue_recipients",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "entry_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("queue_entries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("domain", sa.String(253), nullable=False, server_default=""),
    sa.Column("orcpt", sa.String(500)),
    sa.Column("notify", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_reply", sa.Text),
    sa.Column("last_attempt_at", TS),
    sa.Index("ix_queue_recipients_domain", "domain"),
)

# --- Retrieval: users' accounts on other servers and what was fetched from them

retrieval_accounts = sa.Table(
    "retrieval_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("protocol", sa.String(8), nullable=False),
    sa.Column("host", sa.String(253), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("tls", sa.String(16), nullable=False),
    sa.Column("username", sa.String(320), nullable=False),
    sa.Column("password_encrypted", sa.Text, nullable=False),
    sa.Column("folder", sa.String(1000), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("leave_on_server", sa.Boolean, nullable=False),
    sa.Column("remote_folders", sa.Text, nullable=False),
    sa.Column("interval_s", sa.Float),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_attempt_at", TS),
    sa.Column("last_success_at", TS),
    sa.Column("last_error", sa.Text),
    sa.Column("last_fetched", sa.Integer, nullable=False),
    sa.Column("total_fetched", sa.BigInteger, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("run_requested_at", TS),
    # Retrieval step 2 (migration 0009).
    sa.Column("folder_layout", sa.String(8), nullable=False, server_default="merge"),
    sa.Column("folder_map", sa.Text, nullable=False, server_default=""),
    sa.Column("mark_seen", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("delete_after_days", sa.Integer),
    # Retrieval step 3 (migration 0011).
    sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("apop", sa.Boolean, nullable=False, server_default=sa.false()),
)

retrieval_pop_keys = sa.Table(
    "retrieval_pop_keys",
    metadata,
    sa.Column(
        "retrieval_id",
        sa.Integer,
        sa.ForeignKey("retrieval_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("uidl", sa.String(70), primary_key=True),  # RFC 1939 §7: 1 to 70 characters
    sa.Column("fetched_at", TS, nullable=False),
)

retrieval_imap_keys = sa.Table(
    "retrieval_imap_keys",
    metadata,
    sa.Column(
        "retrieval_id",
        sa.Integer,
        sa.ForeignKey("retrieval_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("folder", sa.String(1000), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, primary_key=True),
    sa.Column("uid", sa.BigInteger, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("fetched_at", TS, nullable=False),
)

# --- XMPP: rosters, offline messages, per-user XML and block lists (store/xmpp.py)

xmpp_roster = sa.Table(
    "xmpp_roster",
    metadata,
    sa.Column("owner", sa.String(320), primary_key=True),
    sa.Column("contact", sa.String(1024), primary_key=True),
    sa.Column("name", sa.String(1024)),
    sa.Column("groups", sa.Text, nullable=False),
    sa.Column("subscription", sa.String(4), nullable=False),
    sa.Column("ask", sa.Boolean, nullable=False),
    sa.Column("pending_in", sa.Boolean, nullable=False),
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("listed", sa.Boolean, nullable=False),
)

xmpp_roster_versions = sa.Table(
    "xmpp_roster_versions",
    metadata,
    sa.Column("owner", sa.String(320), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

xmpp_offline = sa.Table(
    "xmpp_offline",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("stanza", sa.Text, nullable=False),
    sa.Column("stored_at", TS, nullable=False),
    sa.Index("ix_xmpp_offline_owner", "owner", "id"),
)

xmpp_user_xml = sa.Table(
    "xmpp_user_xml",
    metadata,
    sa.Column("owner", sa.String(320), primary_key=True),
    sa.Column("key", sa.String(1100), primary_key=True),
    sa.Column("xml", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

xmpp_blocks = sa.Table(
    "xmpp_blocks",
    metadata,
    sa.Column("owner", sa.String(320), primary_key=True),
    sa.Column("jid", sa.String(1024), primary_key=True),
)

# XMPP message archive (XEP-0313), migration 0010: one row per message per owner.
xmpp_archive = sa.Table(
    "xmpp_archive",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("stanza_id", sa.String(64), nullable=False),
    sa.Column("with_jid", sa.String(1024), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("stanza", sa.Text, nullable=False),
    sa.UniqueConstraint("owner", "stanza_id", name="uq_xmpp_archive_stanza"),
    sa.Index("ix_xmpp_archive_owner", "owner", "id"),
    sa.Index("ix_xmpp_archive_at", "at"),
)

# XMPP personal eventing (XEP-0163 PEP), migration 0015: each account's nodes
# with their configuration, and the items published to them.
xmpp_pep_nodes = sa.Table(
    "xmpp_pep_nodes",
    metadata,
    sa.Column("owner", sa.String(320), primary_key=True),
    sa.Column("node", sa.String(1024), primary_key=True),
    sa.Column("access_model", sa.String(32), nullable=False),
    sa.Column("max_items", sa.Integer, nullable=False),
    sa.Column("send_last", sa.Boolean, nullable=False, server_default=sa.true()),
)
xmpp_pep_items = sa.Table(
    "xmpp_pep_items",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("node", sa.String(1024), nullable=False),
    sa.Column("item_id", sa.String(1024), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("published_at", TS, nullable=False),
    sa.UniqueConstraint("owner", "node", "item_id", name="uq_xmpp_pep_item"),
    sa.Index("ix_xmpp_pep_items_node", "owner", "node", "id"),
)

# XMPP HTTP file upload (XEP-0363), migration 0018: one row per slot given
# (store/xmpp_upload.py); the file itself is under the data folder.
xmpp_uploads = sa.Table(
    "xmpp_uploads",
    metadata,
    sa.Column("slot", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("slot_expires_at", TS, nullable=False),
    sa.Column("expires_at", TS),
    sa.Index("ix_xmpp_uploads_owner", "owner"),
    sa.Index("ix_xmpp_uploads_expires", "expires_at"),
)

# XMPP multi-user chat (XEP-0045), migration 0017: persistent rooms with their
# configuration (JSON) and subject, and each room's affiliations.
xmpp_muc_rooms = sa.Table(
    "xmpp_muc_rooms",
    metadata,
    sa.Column("jid", sa.String(320), primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("subject_by", sa.String(1024), nullable=False),
    sa.Column("creator", sa.String(320), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)
xmpp_muc_affiliations = sa.Table(
    "xmpp_muc_affiliations",
    metadata,
    sa.Column("room", sa.String(320), primary_key=True),
    sa.Column("jid", sa.String(1024), primary_key=True),
    sa.Column("affiliation", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# --- Settings and events

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("node", sa.String(200), nullable=False),
    sa.Column("object", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("old_state", sa.String(64)),
    sa.Column("new_state", sa.String(64)),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source_address", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Index("ix_events_at", "at"),
)

# --- Search (the engine's own table, `search_text`, is made by migration 0006:
# an FTS5 virtual table on SQLite, a pg_trgm-indexed table on PostgreSQL)

search_docs = sa.Table(
    "search_docs",
    metadata,
    sa.Column(
        "message_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("mailbox_id", sa.Integer, nullable=False),
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("indexed_at", TS, nullable=False),
    sa.Index("ix_search_docs_mailbox", "mailbox_id", "version", "error"),
)
"""A message's document in the index is current when its row here has the
document version of `roost.store.search` and no error. The message's mailbox
and UID (neither ever changes) are copied here so that a search counts and
answers from this table alone (migration 0013)."""

search_counts = sa.Table(
    "search_counts",
    metadata,
    sa.Column("mailbox_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("current", sa.BigInteger, nullable=False),
)
"""Per mailbox and document version, the `search_docs` rows without an
error: kept by triggers on `search_docs` (migration 0013), so that telling
whether a mailbox is wholly indexed is one lookup. Read as a hint only in
the safe direction: a count below the mailbox's messages sends the search
to list what is missing."""

search_cursor = sa.Table(
    "search_cursor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("change_id", sa.BigInteger, nullable=False),
    sa.Column("rescan", sa.Boolean, nullable=False),
)
"""One row: the last change the indexer handled, and whether a rebuild asked
it to look for messages without a document."""

search_item_docs = sa.Table(
    "search_item_docs",
    metadata,
    sa.Column(
        "item_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("gw_items.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("component", sa.String(16), nullable=False),
    sa.Column("modseq", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("indexed_at", TS, nullable=False),
    sa.Index("ix_search_item_docs_account", "account_id", "version"),
)
"""A groupware item's document (contact, event, task, note) is current when its
row here has the item document version of `roost.store.search`, no error, and
the item's own `modseq` (an edit raises it). Migration 0021; its engine table,
`search_text_items`, is outside the shared metadata like `search_text`."""

# --- Groupware (store/groupware.py): address books, calendars, task lists, notes

gw_collections = sa.Table(
    "gw_collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("colour", sa.String(32), nullable=False),
    sa.Column("components", sa.String(64), nullable=False),
    sa.Column("modseq", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("account_id", "kind", "name", name="uq_gw_collections_name"),
)
"""A user's collection: kind `addressbook`, `calendar` or `notes`; `name` is its
path segment; `modseq` its latest change (the RFC 6578 sync token's number)."""

gw_items = sa.Table(
    "gw_items",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("gw_collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("uid", sa.String(255), nullable=False),
    sa.Column("component", sa.String(16), nullable=False),
    sa.Column("etag", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("colour", sa.String(32), nullable=False),
    sa.Column("starts_at", TS),
    sa.Column("ends_at", TS),
    sa.Column("recurring", sa.Boolean, nullable=False),
    sa.Column("modseq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("collection_id", "name", name="uq_gw_items_name"),
    sa.Index("ix_gw_items_uid", "collection_id", "uid"),
    sa.Index("ix_gw_items_range", "collection_id", "starts_at"),
)
"""A contact, event, task or note: the client's text as it sent it, and the
fields a query needs (UID, component, start and end in UTC, recurrence)."""

gw_changes = sa.Table(
    "gw_changes",
    metadata,
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("gw_collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("modseq", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Index("ix_gw_changes_modseq", "collection_id", "modseq"),
)
"""The change log of a collection: each item name's last change, kept after a
delete as a tombstone so that a sync from any older token reports it."""

# --- User settings (store/user_settings.py, migration 0020): what a mail user sets
# in the webmail, and the vacation replies sent (RFC 3834's once per period)

user_settings = sa.Table(
    "user_settings",
    metadata,
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("reply_to", sa.String(320), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("vacation_enabled", sa.Boolean, nullable=False),
    sa.Column("vacation_start", sa.Date),
    sa.Column("vacation_end", sa.Date),
    sa.Column("vacation_subject", sa.Text, nullable=False),
    sa.Column("vacation_text", sa.Text, nullable=False),
    sa.Column("vacation_period_days", sa.Integer),
    sa.Column("conversation_view", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", TS, nullable=False),
)
"""One row per user who saved a setting; a user without one has the defaults.
Dates are the user's calendar days (in `time_zone`); a null period is the
configured default."""

vacation_replies = sa.Table(
    "vacation_replies",
    metadata,
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("sender", sa.String(320), primary_key=True),
    sa.Column("last_sent_at", TS, nullable=False),
)
"""When a user's vacation reply last went to a sender."""
