"""The store's roles as protocols: what services and faces may rely on.

`Store` (store.py) offers one implementation of each over SQLAlchemy Core,
shared by the SQLite and PostgreSQL backends; `BlobStore` (blobs.py) has one
per layout. Every method that touches the database takes the unit of work's
`Tx`, so one unit can span roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from roost.store.admin_access import AdminSession, AdminTotp
from roost.store.chat_tokens import RedeemedToken
from roost.store.db import Tx
from roost.store.directory import Resolution
from roost.store.groupware import Changes, Collection, Item, NewItem
from roost.store.mail import NO_FLAGS, Copied, FlagResult, Found, MailboxStatus, UidRanges
from roost.store.mail_list import (
    ConversationStats,
    Cursor,
    ListedMessage,
    SortKey,
    Summary,
    ThreadIds,
    Unthreaded,
)
from roost.store.maildrop_locks import LockOutcome
from roost.store.retrieval import (
    ImapKey,
    NewRetrieval,
    Retrieval,
    RetrievalProtocol,
    RetrievalStatus,
)
from roost.store.search import (
    AccountSearchStatus,
    FoundItem,
    IndexedItem,
    IndexedMessage,
    ItemField,
    ItemSearchStatus,
    NewestMatch,
    PendingItem,
    PendingMessage,
    SearchDocument,
    SearchFailure,
    SearchField,
    SearchStatus,
    SearchTerm,
)
from roost.store.settings import JsonValue
from roost.store.types import (
    Account,
    Admin,
    Alias,
    ApiToken,
    Appended,
    Change,
    Domain,
    DomainAlias,
    Event,
    Flag,
    FlagMode,
    Listed,
    Mailbox,
    MessageFlags,
    MessageInfo,
    NewEvent,
    NewMessage,
    NewRecipient,
    QueueEntry,
    QueueState,
    RecipientState,
    SpecialUse,
    StagedBlob,
)
from roost.store.user_settings import ActiveVacation, StoredSettings
from roost.store.webmail_sessions import WebmailSession
from roost.store.xmpp import (
    ArchiveEntry,
    ArchivePage,
    ArchiveQuery,
    OfflineMessage,
    PepItem,
    PepNode,
    Roster,
    RosterItem,
)
from roost.store.xmpp_muc import StoredAffiliation, StoredRoom
from roost.store.xmpp_upload import UploadSlot, UploadUsage


class DirectoryRole(Protocol):
    """The Directory role: domains, accounts, aliases, admins and API tokens."""

    async def add_domain(self, tx: Tx, name: str) -> Domain: ...

    async def domains(self, tx: Tx) -> list[Domain]: ...

    async def domain(self, tx: Tx, name: str) -> Domain: ...

    async def remove_domain(self, tx: Tx, name: str) -> None: ...

    async def set_catch_all(self, tx: Tx, name: str, target: str | None) -> None: ...

    async def local_domain(self, tx: Tx, name: str) -> str | None: ...

    async def add_domain_alias(self, tx: Tx, alias: str, target: str) -> DomainAlias: ...

    async def domain_aliases(self, tx: Tx) -> list[DomainAlias]: ...

    async def remove_domain_alias(self, tx: Tx, alias: str) -> None: ...

    async def add_account(
        self,
        tx: Tx,
        address: str,
        *,
        display_name: str,
        password_hash: str,
        scram: str,
        quota_bytes: int = 0,
        quota_messages: int = 0,
    ) -> Account: ...

    async def account(self, tx: Tx, address: str) -> Account: ...

    async def find_account(self, tx: Tx, address: str) -> Account | None: ...

    def known_enabled(self, address: str) -> bool | None: ...

    async def account_enabled(self, tx: Tx, address: str) -> bool: ...

    async def account_by_id(self, tx: Tx, account_id: int) -> Account: ...

    async def accounts(self, tx: Tx, domain: str | None = None) -> list[Account]: ...

    async def set_password(self, tx: Tx, address: str, password_hash: str, scram: str) -> None: ...

    async def set_enabled(self, tx: Tx, address: str, enabled: bool) -> None: ...

    async def set_quota(
        self, tx: Tx, address: str, quota_bytes: int, quota_messages: int
    ) -> None: ...

    async def remove_account_row(self, tx: Tx, account_id: int) -> None: ...

    async def add_alias(self, tx: Tx, address: str, targets: tuple[str, ...]) -> Alias: ...

    async def set_alias_targets(self, tx: Tx, address: str, targets: tuple[str, ...]) -> Alias: ...

    async def alias(self, tx: Tx, address: str) -> Alias: ...

    async def aliases(self, tx: Tx, domain: str | None = None) -> list[Alias]: ...

    async def aliases_of(self, tx: Tx, address: str) -> list[str]: ...

    async def remove_alias(self, tx: Tx, address: str) -> None: ...

    async def replace_target(self, tx: Tx, old: str, new: str | None) -> None: ...

    async def resolve(
        self, tx: Tx, address: str, delimiter: str, *, path: tuple[str, ...] = ()
    ) -> Resolution | None: ...

    async def add_admin(
        self, tx: Tx, name: str, password_hash: str, *, must_change: bool
    ) -> Admin: ...

    async def admins(self, tx: Tx) -> list[Admin]: ...

    async def admin(self, tx: Tx, name: str) -> Admin: ...

    async def set_admin_password(
        self, tx: Tx, name: str, password_hash: str, *, must_change: bool
    ) -> None: ...

    async def remove_admin(self, tx: Tx, name: str) -> None: ...

    async def add_token(self, tx: Tx, admin_name: str, name: str, token_hash: str) -> ApiToken: ...

    async def tokens(self, tx: Tx, admin_name: str | None = None) -> list[ApiToken]: ...

    async def token_by_hash(self, tx: Tx, token_hash: str) -> ApiToken | None: ...

    async def touch_token(self, tx: Tx, token_id: int) -> None: ...

    async def revoke_token(self, tx: Tx, admin_name: str, name: str) -> None: ...


class MailRole(Protocol):
    """The Mail role: mailboxes, messages, flags, UIDs, MODSEQs, expunge log."""

    async def create_mailbox(
        self,
        tx: Tx,
        account_id: int,
        name: str,
        special_use: SpecialUse | None = None,
        *,
        subscribed: bool = True,
    ) -> Mailbox: ...

    async def mailboxes(self, tx: Tx, account_id: int) -> list[Mailbox]: ...

    async def mailbox(self, tx: Tx, account_id: int, name: str) -> Mailbox: ...

    async def mailbox_by_id(self, tx: Tx, mailbox_id: int) -> Mailbox: ...

    async def rename_mailbox(self, tx: Tx, account_id: int, old: str, new: str) -> Mailbox: ...

    async def delete_mailbox(self, tx: Tx, account_id: int, name: str) -> None: ...

    async def remove_account_mailboxes(self, tx: Tx, account_id: int) -> None: ...

    async def set_subscribed(
        self, tx: Tx, account_id: int, name: str, subscribed: bool
    ) -> None: ...

    async def append(
        self, tx: Tx, mailbox_id: int, items: Sequence[NewMessage], *, enforce_quota: bool = True
    ) -> list[Appended]: ...

    async def messages(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> list[MessageInfo]: ...

    async def arrivals(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> list[tuple[int, datetime]]: ...

    async def listing(self, tx: Tx, mailbox_id: int) -> list[Listed]: ...

    async def flags(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None, changed_since: int = 0
    ) -> list[MessageFlags]: ...

    async def store_flags(
        self,
        tx: Tx,
        mailbox_id: int,
        uids: UidRanges | None,
        mode: FlagMode,
        flags: Flag,
        keywords: Iterable[str] = (),
        *,
        unchanged_since: int | None = None,
    ) -> FlagResult: ...

    async def expunge(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None, *, deleted_only: bool = True
    ) -> list[int]: ...

    async def mailbox_status(self, tx: Tx, mailbox_id: int) -> MailboxStatus: ...

    async def uid_runs(self, tx: Tx, mailbox_id: int) -> list[tuple[int, int]]: ...

    async def keywords_in_use(self, tx: Tx, mailbox_id: int) -> list[str]: ...

    async def find(
        self,
        tx: Tx,
        mailbox_id: int,
        *,
        with_flags: Flag = NO_FLAGS,
        without_flags: Flag = NO_FLAGS,
        with_keywords: Iterable[str] = (),
        without_keywords: Iterable[str] = (),
        min_modseq: int = 0,
        first_only: bool = False,
        highest_modseq: bool = False,
    ) -> Found: ...

    async def structures(
        self, tx: Tx, mailbox_id: int, uids: UidRanges | None = None
    ) -> dict[int, str | None]: ...

    async def vanished(
        self, tx: Tx, mailbox_id: int, since_modseq: int, uids: UidRanges | None = None
    ) -> list[int]: ...

    async def copy(
        self, tx: Tx, source_id: int, uids: UidRanges, target_id: int, *, enforce_quota: bool = True
    ) -> Copied: ...


class MaildropLockRole(Protocol):
    """Maildrop locks: one POP3 session per mailbox, kept in the store with an
    expiry (see `roost.store.maildrop_locks`)."""

    async def take(
        self,
        tx: Tx,
        mailbox_id: int,
        holder: str,
        ttl_s: float,
        *,
        min_interval_s: float = 0.0,
    ) -> LockOutcome: ...

    async def renew(self, tx: Tx, mailbox_id: int, holder: str, ttl_s: float) -> bool: ...

    async def holder(self, tx: Tx, mailbox_id: int) -> str | None: ...

    async def release(self, tx: Tx, mailbox_id: int, holder: str) -> bool: ...


class AdminAccessRole(Protocol):
    """Admin console sessions and two-step secrets (see `roost.store.admin_access`)."""

    async def add_session(
        self, tx: Tx, id_hash: str, admin_id: int, csrf_token: str, source_address: str | None
    ) -> None: ...

    async def session(self, tx: Tx, id_hash: str) -> AdminSession | None: ...

    async def sessions_of(self, tx: Tx, admin_id: int) -> list[AdminSession]: ...

    async def touch_session(self, tx: Tx, id_hash: str) -> None: ...

    async def remove_session(self, tx: Tx, id_hash: str) -> bool: ...

    async def remove_sessions(self, tx: Tx, admin_id: int, *, keep: str | None = None) -> int: ...

    async def remove_expired_sessions(
        self, tx: Tx, *, idle_before: datetime, created_before: datetime
    ) -> int: ...

    async def totp(self, tx: Tx, admin_id: int) -> AdminTotp | None: ...

    async def set_totp(self, tx: Tx, admin_id: int, secret: str, *, enabled: bool) -> None: ...

    async def use_totp_step(self, tx: Tx, admin_id: int, step: int) -> bool: ...

    async def remove_totp(self, tx: Tx, admin_id: int) -> bool: ...


class WebmailSessionsRole(Protocol):
    """Webmail sessions of mail users (see `roost.store.webmail_sessions`)."""

    async def add_session(
        self,
        tx: Tx,
        id_hash: str,
        account_id: int,
        stamp: str,
        csrf_token: str,
        source_address: str | None,
    ) -> None: ...

    async def session(self, tx: Tx, id_hash: str) -> WebmailSession | None: ...

    async def sessions_of(self, tx: Tx, account_id: int) -> list[WebmailSession]: ...

    async def touch_session(self, tx: Tx, id_hash: str) -> None: ...

    async def remove_session(self, tx: Tx, id_hash: str) -> bool: ...

    async def remove_sessions(self, tx: Tx, account_id: int) -> int: ...

    async def live_ids(self, tx: Tx, id_hashes: list[str]) -> set[str]: ...

    async def remove_expired_sessions(
        self, tx: Tx, *, idle_before: datetime, created_before: datetime
    ) -> int: ...

    async def image_senders(self, tx: Tx, account_id: int, senders: Sequence[str]) -> set[str]: ...

    async def allow_images(self, tx: Tx, account_id: int, sender: str) -> None: ...

    async def forbid_images(self, tx: Tx, account_id: int, sender: str) -> bool: ...

    async def image_sender_count(self, tx: Tx, account_id: int) -> int: ...


class ChatTokensRole(Protocol):
    """Single-use web chat tokens (see `roost.store.chat_tokens`)."""

    async def add_token(
        self, tx: Tx, token_hash: str, account_id: int, session_hash: str, expires_at: datetime
    ) -> None: ...

    async def redeem_token(
        self, tx: Tx, token_hash: str, now: datetime
    ) -> RedeemedToken | None: ...

    async def remove_expired_tokens(self, tx: Tx, now: datetime) -> int: ...

    async def token_count(self, tx: Tx, session_hash: str) -> int: ...


class MailListRole(Protocol):
    """The webmail's message list: keyset pages and summaries (see `roost.store.mail_list`)."""

    async def page(
        self,
        tx: Tx,
        mailbox_id: int,
        key: SortKey,
        *,
        descending: bool,
        after: Cursor | None,
        limit: int,
        by_summary: bool = False,
    ) -> list[ListedMessage]: ...

    async def unseen_counts(self, tx: Tx, mailbox_ids: Sequence[int]) -> dict[int, int]: ...

    async def unsummarised(
        self, tx: Tx, mailbox_id: int, limit: int, from_uid: int = 0
    ) -> list[str]: ...

    async def put_summaries(self, tx: Tx, items: Sequence[tuple[str, Summary]]) -> None: ...

    async def structures(self, tx: Tx, blob_hashes: Sequence[str]) -> dict[str, str | None]: ...

    async def unthreaded(
        self, tx: Tx, mailbox_id: int, limit: int, from_uid: int = 0
    ) -> list[Unthreaded]: ...

    async def assign_threads(self, tx: Tx, account_id: int, items: Sequence[ThreadIds]) -> None: ...

    async def conversation_heads(
        self,
        tx: Tx,
        mailbox_id: int,
        *,
        after: tuple[datetime, int] | None,
        limit: int,
        scan: int,
    ) -> tuple[list[ListedMessage], tuple[datetime, int] | None]: ...

    async def conversation_stats(
        self, tx: Tx, mailbox_id: int, keys: Sequence[int]
    ) -> dict[int, ConversationStats]: ...

    async def thread_unsummarised(
        self, tx: Tx, mailbox_id: int, keys: Sequence[int], limit: int
    ) -> list[str]: ...

    async def thread_messages(
        self, tx: Tx, mailbox_id: int, thread_key: int, limit: int
    ) -> list[ListedMessage]: ...

    async def thread_uids(self, tx: Tx, mailbox_id: int, keys: Sequence[int]) -> list[int]: ...

    async def listed(self, tx: Tx, mailbox_id: int, uid: int) -> ListedMessage | None: ...


class QueueRole(Protocol):
    """The Queue role: spool entries and per-recipient state."""

    async def enqueue(
        self,
        tx: Tx,
        blob: StagedBlob,
        sender: str,
        recipients: Sequence[NewRecipient],
        *,
        source: str,
        envid: str | None = None,
        ret: str | None = None,
        details: str = "{}",
        not_before: datetime | None = None,
    ) -> int: ...

    async def entry(self, tx: Tx, entry_id: int) -> QueueEntry: ...

    async def entries(
        self,
        tx: Tx,
        *,
        ids: Sequence[int] | None = None,
        states: Sequence[QueueState] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueueEntry]: ...

    async def search(
        self,
        tx: Tx,
        *,
        states: Sequence[QueueState] | None = None,
        sender: str | None = None,
        domain: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[QueueEntry]]: ...

    async def retry_now(self, tx: Tx, entry_id: int, *, reset: bool = False) -> None: ...

    async def hold(self, tx: Tx, entry_id: int) -> None: ...

    async def release_hold(self, tx: Tx, entry_id: int) -> None: ...

    async def count(self, tx: Tx) -> dict[QueueState, int]: ...

    async def claim_due(
        self, tx: Tx, worker: str, lease_s: float, limit: int
    ) -> list[QueueEntry]: ...

    async def record_attempt(
        self,
        tx: Tx,
        entry_id: int,
        results: dict[int, tuple[RecipientState, str]],
        next_attempt_at: datetime | None,
    ) -> None: ...

    async def oldest_due(self, tx: Tx, now: datetime) -> datetime | None: ...

    async def release_claims(
        self, tx: Tx, worker: str, ids: Sequence[int] | None = None
    ) -> int: ...

    async def set_recipient_result(
        self, tx: Tx, entry_id: int, recipient_id: int, state: RecipientState, reply: str
    ) -> None: ...

    async def add_recipients(
        self, tx: Tx, entry_id: int, recipients: Sequence[NewRecipient]
    ) -> None: ...

    async def release(
        self,
        tx: Tx,
        entry_id: int,
        next_attempt_at: datetime | None,
        *,
        details: str | None = None,
    ) -> None: ...

    async def set_state(self, tx: Tx, entry_id: int, state: QueueState) -> None: ...

    async def reschedule(
        self, tx: Tx, entry_id: int, at: datetime, *, reset_attempts: bool = False
    ) -> None: ...

    async def remove(self, tx: Tx, entry_id: int) -> None: ...


class SearchRole(Protocol):
    """The Search role: the full-text index of messages (see `roost.store.search`)."""

    async def put(self, tx: Tx, message_id: int, doc: SearchDocument) -> None: ...

    async def put_failed(self, tx: Tx, message_id: int, error: str) -> None: ...

    async def put_many(self, tx: Tx, items: Sequence[IndexedMessage]) -> None: ...

    async def forget(self, tx: Tx, account_id: int | None = None) -> int: ...

    async def collect_orphans(self, tx: Tx) -> int: ...

    async def pending(
        self,
        tx: Tx,
        *,
        mailbox_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[PendingMessage]: ...

    async def indexed_in(self, tx: Tx, mailbox_id: int) -> set[int]: ...

    async def unindexed_in(self, tx: Tx, mailbox_id: int) -> set[int]: ...

    async def matching(
        self, tx: Tx, mailbox_id: int, field: SearchField, needle: str
    ) -> set[int]: ...

    async def matching_fields(
        self, tx: Tx, mailbox_id: int, fields: Sequence[SearchField], needle: str
    ) -> dict[int, int]: ...

    async def newest_matching(
        self,
        tx: Tx,
        mailbox_ids: Sequence[int],
        terms: Sequence[SearchTerm],
        *,
        limit: int,
        below: int | None = None,
        with_attachment: bool = False,
    ) -> list[NewestMatch]: ...

    async def cursor(self, tx: Tx) -> int: ...

    async def set_cursor(self, tx: Tx, change_id: int) -> None: ...

    async def request_rescan(self, tx: Tx) -> None: ...

    async def take_rescan(self, tx: Tx) -> bool: ...

    async def status(self, tx: Tx, account_id: int | None = None) -> SearchStatus: ...

    async def accounts(self, tx: Tx) -> list[AccountSearchStatus]: ...

    async def account_of_mailbox(self, tx: Tx, mailbox_id: int) -> int | None: ...

    async def failures(
        self, tx: Tx, account_id: int | None = None, limit: int = 20
    ) -> list[SearchFailure]: ...

    async def put_items(self, tx: Tx, items: Sequence[IndexedItem]) -> None: ...

    async def forget_items(self, tx: Tx, account_id: int | None = None) -> int: ...

    async def collect_item_orphans(self, tx: Tx) -> int: ...

    async def pending_items(
        self,
        tx: Tx,
        *,
        account_id: int | None = None,
        after_id: int = 0,
        limit: int = 100,
        with_failed: bool = False,
        newest_first: bool = False,
    ) -> list[PendingItem]: ...

    async def matching_items(
        self, tx: Tx, account_id: int, field: ItemField | None, needle: str
    ) -> set[int]: ...

    async def item_status(self, tx: Tx, account_id: int | None = None) -> ItemSearchStatus: ...

    async def items_found(self, tx: Tx, account_id: int, ids: Sequence[int]) -> list[FoundItem]: ...


class RetrievalRole(Protocol):
    """The Retrieval role: external accounts, fetched keys, status."""

    async def add(self, tx: Tx, account_id: int, spec: NewRetrieval) -> Retrieval: ...

    async def get(self, tx: Tx, retrieval_id: int) -> Retrieval: ...

    async def accounts(
        self,
        tx: Tx,
        *,
        account_id: int | None = None,
        protocol: RetrievalProtocol | None = None,
        enabled_only: bool = False,
    ) -> list[Retrieval]: ...

    async def update(self, tx: Tx, retrieval_id: int, spec: NewRetrieval) -> None: ...

    async def remove(self, tx: Tx, retrieval_id: int) -> None: ...

    async def forget_keys(self, tx: Tx, retrieval_id: int) -> None: ...

    async def record_attempt(
        self, tx: Tx, retrieval_id: int, *, fetched: int, error: str | None
    ) -> RetrievalStatus: ...

    async def request_run(self, tx: Tx, retrieval_id: int) -> None: ...

    async def take_run_request(self, tx: Tx, retrieval_id: int) -> bool: ...

    async def add_pop_key(self, tx: Tx, retrieval_id: int, uidl: str) -> None: ...

    async def pop_keys(self, tx: Tx, retrieval_id: int) -> set[str]: ...

    async def pop_keys_fetched_before(
        self, tx: Tx, retrieval_id: int, cutoff: datetime
    ) -> set[str]: ...

    async def forget_pop_keys(self, tx: Tx, retrieval_id: int, keep: set[str]) -> int: ...

    async def add_imap_key(self, tx: Tx, retrieval_id: int, key: ImapKey) -> None: ...

    async def imap_keys(self, tx: Tx, retrieval_id: int, folder: str) -> list[ImapKey]: ...

    async def rekey_imap(
        self, tx: Tx, retrieval_id: int, folder: str, uidvalidity: int, uids: dict[str, list[int]]
    ) -> None: ...


class XmppRole(Protocol):
    """The XMPP role: rosters, offline messages, per-user XML, block lists."""

    async def roster(self, tx: Tx, owner: str) -> Roster: ...

    async def roster_version(self, tx: Tx, owner: str) -> int: ...

    async def roster_item(self, tx: Tx, owner: str, contact: str) -> RosterItem | None: ...

    async def items_of(self, tx: Tx, owner: str) -> list[RosterItem]: ...

    async def put_roster_item(self, tx: Tx, owner: str, item: RosterItem) -> int: ...

    async def remove_roster_item(self, tx: Tx, owner: str, contact: str) -> int | None: ...

    async def store_offline(self, tx: Tx, owner: str, stanza: str, *, limit: int) -> bool: ...

    async def offline_count(self, tx: Tx, owner: str | None = None) -> int: ...

    async def take_offline(self, tx: Tx, owner: str) -> list[OfflineMessage]: ...

    async def user_xml(self, tx: Tx, owner: str, key: str) -> str | None: ...

    async def put_user_xml(self, tx: Tx, owner: str, key: str, xml: str) -> None: ...

    async def blocked(self, tx: Tx, owner: str) -> list[str]: ...

    async def block(self, tx: Tx, owner: str, jids: list[str]) -> list[str]: ...

    async def unblock(self, tx: Tx, owner: str, jids: list[str] | None) -> list[str]: ...

    async def remove_owner(self, tx: Tx, owner: str) -> None: ...

    async def archive(
        self, tx: Tx, owner: str, stanza_id: str, with_jid: str, stanza: str
    ) -> None: ...

    async def archive_many(self, tx: Tx, entries: Sequence[ArchiveEntry]) -> None: ...

    async def archive_page(self, tx: Tx, owner: str, query: ArchiveQuery) -> ArchivePage | None: ...

    async def prune_archive(self, tx: Tx, older_than: datetime) -> int: ...

    async def pep_node(self, tx: Tx, owner: str, node: str) -> PepNode | None: ...

    async def pep_nodes(self, tx: Tx, owner: str) -> list[PepNode]: ...

    async def put_pep_node(self, tx: Tx, owner: str, node: PepNode) -> None: ...

    async def delete_pep_node(self, tx: Tx, owner: str, node: str) -> bool: ...

    async def publish_pep_item(
        self, tx: Tx, owner: str, node: str, item_id: str, payload: str, *, max_items: int
    ) -> None: ...

    async def pep_items(
        self,
        tx: Tx,
        owner: str,
        node: str,
        *,
        ids: tuple[str, ...] = (),
        newest: int | None = None,
    ) -> list[PepItem]: ...

    async def retract_pep_item(self, tx: Tx, owner: str, node: str, item_id: str) -> bool: ...


class XmppMucRole(Protocol):
    """The XMPP multi-user chat role: persistent rooms and affiliations."""

    async def rooms(self, tx: Tx) -> list[StoredRoom]: ...

    async def room(self, tx: Tx, jid: str) -> StoredRoom | None: ...

    async def put_room(self, tx: Tx, room: StoredRoom) -> None: ...

    async def set_subject(self, tx: Tx, jid: str, subject: str, by: str) -> bool: ...

    async def delete_room(self, tx: Tx, jid: str) -> bool: ...

    async def affiliations(self, tx: Tx, room: str) -> list[StoredAffiliation]: ...

    async def set_affiliation(
        self, tx: Tx, room: str, jid: str, affiliation: str | None, reason: str = ""
    ) -> None: ...

    async def rooms_created_by(self, tx: Tx, creator: str) -> int: ...


class XmppUploadRole(Protocol):
    """XMPP HTTP file upload (XEP-0363) slots (see `roost.store.xmpp_upload`)."""

    async def add_slot(self, tx: Tx, slot: UploadSlot, *, quota: int) -> bool: ...

    async def upload_slot(self, tx: Tx, slot: str) -> UploadSlot | None: ...

    async def claim_slot(self, tx: Tx, slot: str) -> bool: ...

    async def release_slot(self, tx: Tx, slot: str) -> None: ...

    async def mark_stored(self, tx: Tx, slot: str, expires_at: datetime | None) -> bool: ...

    async def upload_usage(self, tx: Tx, owner: str | None = None) -> UploadUsage: ...

    async def expired_uploads(self, tx: Tx, limit: int) -> list[UploadSlot]: ...

    async def delete_uploads(self, tx: Tx, slots: list[str]) -> int: ...


class SettingsRole(Protocol):
    """Settings such as the desired state of each service."""

    async def get(self, tx: Tx, key: str) -> JsonValue: ...

    async def get_prefix(self, tx: Tx, prefix: str) -> dict[str, JsonValue]: ...

    async def set(self, tx: Tx, key: str, value: JsonValue) -> None: ...


class EventsRole(Protocol):
    """The event and audit log."""

    async def add(self, tx: Tx, event: NewEvent) -> int: ...

    async def list(
        self,
        tx: Tx,
        *,
        limit: int = 100,
        before_id: int | None = None,
        object: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        object_prefix: str | None = None,
        actor_contains: str | None = None,
    ) -> list[Event]: ...

    async def prune(self, tx: Tx, before: datetime) -> int: ...


class ChangeFeedRole(Protocol):
    """The durable change feed and its wake-ups."""

    @property
    def latest_seen(self) -> int: ...

    async def load(self) -> None: ...

    async def latest(self, tx: Tx) -> int: ...

    async def append(
        self, tx: Tx, account_id: int, mailbox_id: int | None, kind: str, modseq: int | None
    ) -> int: ...

    async def since(
        self, tx: Tx, after: int, account_id: int | None = None, limit: int = 1000
    ) -> list[Change]: ...

    def notify(self, change_id: int) -> None: ...

    async def wait(self, after: int, timeout_s: float) -> bool: ...


class GroupwareRole(Protocol):
    """The Groupware role: address books, calendars, task lists, notes folders,
    their items and change log (see `roost.store.groupware`)."""

    async def ensure_defaults(self, tx: Tx, account_id: int) -> list[Collection]: ...

    async def collections(
        self, tx: Tx, account_id: int, kind: str | None = None
    ) -> list[Collection]: ...

    async def collection(
        self, tx: Tx, account_id: int, kind: str, name: str
    ) -> Collection | None: ...

    async def collection_by_id(self, tx: Tx, collection_id: int) -> Collection | None: ...

    async def create_collection(
        self,
        tx: Tx,
        account_id: int,
        kind: str,
        name: str,
        *,
        display_name: str = "",
        description: str = "",
        colour: str = "",
        components: Sequence[str] = (),
    ) -> Collection | None: ...

    async def update_collection(
        self,
        tx: Tx,
        collection_id: int,
        *,
        display_name: str | None = None,
        description: str | None = None,
        colour: str | None = None,
    ) -> Collection | None: ...

    async def delete_collection(self, tx: Tx, collection_id: int) -> bool: ...

    async def collection_count(self, tx: Tx, account_id: int) -> int: ...

    async def item_count(self, tx: Tx, collection_id: int) -> int: ...

    async def items(self, tx: Tx, collection_id: int) -> list[Item]: ...

    async def item(self, tx: Tx, collection_id: int, name: str) -> Item | None: ...

    async def items_named(self, tx: Tx, collection_id: int, names: Sequence[str]) -> list[Item]: ...

    async def item_by_uid(self, tx: Tx, collection_id: int, uid: str) -> Item | None: ...

    async def items_in_range(
        self,
        tx: Tx,
        collection_id: int,
        component: str,
        start: datetime | None,
        end: datetime | None,
    ) -> list[Item]: ...

    async def put_item(self, tx: Tx, collection_id: int, new: NewItem) -> Item: ...

    async def delete_item(self, tx: Tx, collection_id: int, name: str) -> bool: ...

    async def changes_since(self, tx: Tx, collection_id: int, modseq: int) -> Changes | None: ...

    async def change_mark(self, tx: Tx) -> int: ...

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]: ...


class UserSettingsRole(Protocol):
    """A mail user's own settings and vacation log (see `roost.store.user_settings`)."""

    async def get(self, tx: Tx, account_id: int) -> StoredSettings | None: ...

    async def put(self, tx: Tx, account_id: int, settings: StoredSettings) -> None: ...

    async def active_vacations(self, tx: Tx, addresses: Sequence[str]) -> list[ActiveVacation]: ...

    async def claim_reply(
        self, tx: Tx, account_id: int, sender: str, period: timedelta
    ) -> bool: ...

    async def last_reply(self, tx: Tx, account_id: int, sender: str) -> datetime | None: ...

    async def forget_replies(self, tx: Tx, account_id: int) -> int: ...
