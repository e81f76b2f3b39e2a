"""Roost's configuration: the schema of `roost.toml` and its loader.

Every limit a service uses is a setting here. A value that is absent takes the
default of the profile (`development` or `production`); an unknown key or a
bad value stops Roost with a message naming the key, the value and the file.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.core.errors import ConfigError
from roost.core.settings import check_listen, info_of, setting

PROFILES = ("development", "production")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _check_levels(value: Any) -> str | None:
    for name, level in value.items():
        if level not in LOG_LEVELS:
            return f"level {level!r} for {name!r} is not one of {', '.join(LOG_LEVELS)}"
    return None


@dataclass(frozen=True, slots=True)
class RoostSettings:
    profile: str = setting(
        "development",
        help="Which defaults apply: `development` (high ports on loopback, plaintext "
        "passwords allowed on loopback) or `production` (standard ports, TLS required "
        "for passwords).",
        choices=PROFILES,
    )
    data_dir: str = setting(
        "data",
        help="The data folder: database, message files, certificates, logs. A relative "
        "path is taken from the folder of the config file.",
        path=True,
    )
    node_name: str = setting(
        "",
        help="This node's name on the Services page and in the event log; empty means "
        "the machine's host name.",
    )


@dataclass(frozen=True, slots=True)
class StoreSettings:
    url: str = setting(
        "",
        help="Empty for the embedded store (SQLite and files in the data folder), or "
        "`postgresql://USER@HOST:PORT/DATABASE` for PostgreSQL.",
    )
    schema: str = setting(
        "",
        help="PostgreSQL only: the schema that holds Roost's tables (empty: `public`).",
    )
    sqlite_readers: int = setting(
        4, help="Embedded store: connections kept open for reading.", min=1, max=64
    )
    pool_size: int = setting(
        10, help="PostgreSQL: connections kept open in the pool.", min=1, max=500
    )
    commit_group_max: int = setting(
        64,
        help="Embedded store: the most units of work grouped into one commit by the single writer.",
        min=1,
        max=10_000,
    )
    busy_timeout_s: float = setting(
        30.0,
        help="Embedded store: how long a connection waits for a lock held by another "
        "process (the CLI working on the store directly) before giving up.",
        min=0.1,
        unit="s",
    )
    blob_gc_interval_s: float = setting(
        600.0,
        help="How often unreferenced message files are looked for and removed.",
        min=1,
        unit="s",
    )
    blob_gc_grace_s: float = setting(
        3600.0,
        help="A message file that nothing references is removed only after it has been "
        "unreferenced this long.",
        min=0,
        unit="s",
    )


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    argon2_time_cost: int = setting(
        3, help="argon2id passes over memory for each password hash.", min=1, max=100
    )
    argon2_memory_kib: int = setting(
        65536, help="argon2id memory per hash.", min=8, max=4_194_304, unit="KiB"
    )
    argon2_parallelism: int = setting(1, help="argon2id lanes per hash.", min=1, max=64)
    scram_iterations: int = setting(
        4096,
        help="PBKDF2 iterations for the SCRAM-SHA-1 and SCRAM-SHA-256 keys stored beside "
        "each password hash (RFC 7677 asks for at least 4096).",
        min=4096,
        max=10_000_000,
    )
    login_cache_ttl_s: float = setting(
        300.0,
        help="How long a successful password check is remembered (as a keyed hash) so "
        "that busy clients do not cost an argon2 hash each; 0 turns the cache off.",
        min=0,
        unit="s",
    )
    recipient_delimiter: str = setting(
        "+",
        help="Mail to user+tag@domain is delivered to user@domain; empty turns it off.",
    )
    default_quota_mb: int = setting(
        0, help="Storage quota of a new account; 0 means unlimited.", min=0, unit="MiB"
    )


@dataclass(frozen=True, slots=True)
class AuthSettings:
    plaintext_on_loopback: bool = setting(
        True,
        prod=False,
        help="Allow passwords without TLS from loopback addresses (never from elsewhere).",
    )
    free_failures: int = setting(
        3,
        help="Failed sign-ins from one address (or one account from one address) before "
        "each further attempt is delayed.",
        min=0,
        max=1000,
    )
    delay_initial_s: float = setting(
        1.0, help="First delay after the free failures; it doubles each time.", min=0, unit="s"
    )
    delay_max_s: float = setting(15.0, help="Longest delay before an answer.", min=0, unit="s")
    lockout_failures: int = setting(
        20,
        help="Failed sign-ins from one address within the window that lock that address out.",
        min=1,
        max=1_000_000,
    )
    lockout_window_s: float = setting(
        900.0, help="Window in which failures are counted.", min=1, unit="s"
    )
    lockout_s: float = setting(
        900.0, help="How long a locked-out address is refused.", min=1, unit="s"
    )
    account_lockout: bool = setting(
        False,
        help="Also lock an account out after failures from any address. Off by default: "
        "it would let anyone lock a user out from elsewhere.",
    )
    account_lockout_failures: int = setting(
        100, help="Failures from all addresses that lock an account out.", min=1
    )


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    probe_interval_s: float = setting(
        30.0, help="Time between two health probes of a running service.", min=0.05, unit="s"
    )
    probe_timeout_s: float = setting(
        5.0, help="A probe that takes longer has failed.", min=0.01, unit="s"
    )
    probe_failures: int = setting(
        3, help="Consecutive failed probes after which a service is restarted.", min=1
    )
    start_timeout_s: float = setting(
        30.0,
        help="A service that is not ready after this long has failed to start.",
        min=0.1,
        unit="s",
    )
    stop_grace_s: float = setting(
        10.0,
        help="How long a stopping service may finish what is in progress before it is closed.",
        min=0,
        unit="s",
    )
    backoff_initial_s: float = setting(
        1.0, help="First delay before a failed service is started again.", min=0.01, unit="s"
    )
    backoff_max_s: float = setting(
        300.0,
        help="Longest delay between two attempts to start a failed service.",
        min=0.01,
        unit="s",
    )


def _check_networks(value: Any) -> str | None:
    import ipaddress

    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"{item!r} is not a network (like 192.0.2.0/24 or ::1/128)"
    return None


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    mx_listen: tuple[str, ...] = setting(
        ("127.0.0.1:2525",),
        prod=("0.0.0.0:25",),
        help="Listeners for mail from other servers (MX). STARTTLS is offered, never "
        "required (RFC 3207 §4).",
        check=check_listen,
    )
    submission_listen: tuple[str, ...] = setting(
        ("127.0.0.1:5587",),
        prod=("0.0.0.0:587",),
        help="Listeners for users' mail (submission, RFC 6409): STARTTLS, then AUTH required.",
        check=check_listen,
    )
    submissions_listen: tuple[str, ...] = setting(
        ("127.0.0.1:5465",),
        prod=("0.0.0.0:465",),
        help="Listeners for users' mail over implicit TLS (RFC 8314), AUTH required.",
        check=check_listen,
    )
    hostname: str = setting(
        "", help="The name in the greeting and in Received fields; empty means the node name."
    )
    max_message_bytes: int = setting(
        52_428_800, help="Largest message accepted (declared as SIZE).", min=1024, unit="bytes"
    )
    max_data_line_bytes: int = setting(
        1_048_576,
        help="Longest line accepted in a message; RFC 5321 §4.5.3.1.6 sets 998 octets, "
        "and longer lines are accepted up to this cap (as Postfix does), then refused "
        "with 554 5.6.0.",
        min=1000,
        unit="bytes",
    )
    max_recipients: int = setting(
        100,
        help="Recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).",
        min=100,
        max=100_000,
    )
    max_messages_per_connection: int = setting(
        1000, help="Messages one connection may send before it must reconnect.", min=1
    )
    max_errors: int = setting(
        10, help="Protocol errors after which a client is disconnected (421).", min=1
    )
    idle_timeout_s: float = setting(
        300.0,
        help="A client silent this long is disconnected with 421 (RFC 5321 §4.5.3.2.7: at "
        "least 5 minutes).",
        min=300,
        unit="s",
    )
    max_connections: int = setting(1000, help="Connections to SMTP at once, in all.", min=1)
    max_connections_per_address: int = setting(
        20, help="Connections at once from one client address.", min=1
    )
    connection_rate_per_minute: int = setting(
        120,
        help="New connections one client address may open per minute; past it, 421. "
        "0 for no limit.",
        min=0,
    )
    trusted_networks: tuple[str, ...] = setting(
        ("127.0.0.0/8", "::1/128"),
        help="Clients in these networks may relay without authentication.",
        check=_check_networks,
    )
    restrict_sender: bool = setting(
        True,
        help="An authenticated user may only use their own addresses and aliases as the "
        "envelope sender.",
    )
    messages_per_hour: int = setting(
        500, help="Messages an authenticated user may send per hour; 0 for no limit.", min=0
    )
    vrfy: bool = setting(
        False, help="Answer VRFY truthfully; off, every VRFY gets 252 (RFC 5321 §3.5.3)."
    )
    max_received_headers: int = setting(
        100,
        help="A message with this many Received fields is refused as a loop (554 5.4.6, RFC "
        "5321 §6.3).",
        min=10,
    )


@dataclass(frozen=True, slots=True)
class PopSettings:
    listen: tuple[str, ...] = setting(
        ("127.0.0.1:1110",),
        prod=("0.0.0.0:110",),
        help="POP3 listeners with STLS (RFC 2595). Passwords are taken only after STLS, "
        "except from loopback where `[auth] plaintext_on_loopback` allows it.",
        check=check_listen,
    )
    tls_listen: tuple[str, ...] = setting(
        ("127.0.0.1:1995",),
        prod=("0.0.0.0:995",),
        help="POP3 listeners over implicit TLS (RFC 8314).",
        check=check_listen,
    )
    user_pass: bool = setting(
        True,
        help="Offer USER/PASS (RFC 1939 §7) besides AUTH. Either way a password travels "
        "only over TLS, or from loopback where `[auth] plaintext_on_loopback` allows it.",
    )
    idle_timeout_s: float = setting(
        600.0,
        help="A client silent this long is disconnected without committing its deletions "
        "(RFC 1939 §3: at least 10 minutes).",
        min=600,
        unit="s",
    )
    login_delay_s: int = setting(
        0,
        help="Fewest seconds between two logins of one mailbox, announced as LOGIN-DELAY "
        "(RFC 2449 §6.5) and enforced with `-ERR [LOGIN-DELAY]`; 0 for none.",
        min=0,
        max=86_400,
        unit="s",
    )
    lock_ttl_s: float = setting(
        120.0,
        help="The maildrop lock (one POP session per mailbox, `-ERR [IN-USE]`) is kept in "
        "the store for this long and renewed by a live session every third of it; the "
        "lock of a crashed node lapses after it.",
        min=30,
        max=3600,
        unit="s",
    )
    read_ahead_bytes: int = setting(
        262_144,
        help="Clients RETR in order, so small messages (up to 64 KiB) are read in batches "
        "ahead of the one asked for, the next batch while the client takes this one; "
        "this caps what a session holds so. Larger messages are streamed in chunks; "
        "0 streams every message.",
        min=0,
        max=16_777_216,
        unit="bytes",
    )
    max_errors: int = setting(
        20, help="Refused commands after which a client is disconnected.", min=1, max=1000
    )
    max_connections: int = setting(1000, help="Connections to POP at once, in all.", min=1)
    max_connections_per_address: int = setting(
        20, help="Connections at once from one client address.", min=1
    )


@dataclass(frozen=True, slots=True)
class ImapSettings:
    listen: tuple[str, ...] = setting(
        ("127.0.0.1:1143",),
        prod=("0.0.0.0:143",),
        help="IMAP listeners with STARTTLS (RFC 9051 §6.2.1). LOGIN and PLAIN are taken only "
        "after STARTTLS (LOGINDISABLED before), except from loopback where `[auth] "
        "plaintext_on_loopback` allows it.",
        check=check_listen,
    )
    tls_listen: tuple[str, ...] = setting(
        ("127.0.0.1:1993",),
        prod=("0.0.0.0:993",),
        help="IMAP listeners over implicit TLS (RFC 8314).",
        check=check_listen,
    )
    idle_timeout_s: float = setting(
        1800.0,
        help="A client silent this long, IDLE included, is logged out with BYE (RFC 9051 "
        "§5.4: at least 30 minutes).",
        min=1800,
        unit="s",
    )
    max_append_bytes: int = setting(
        52_428_800,
        help="Largest message APPEND takes, announced as APPENDLIMIT (RFC 7889); a larger "
        "literal is refused with NO [TOOBIG] before the client sends it.",
        min=1024,
        unit="bytes",
    )
    max_line_bytes: int = setting(
        65_536,
        help="Longest command line, literals apart (RFC 7162 §4 asks for at least 8192).",
        min=8192,
        max=16_777_216,
        unit="bytes",
    )
    output_buffer_bytes: int = setting(
        262_144,
        help="Responses queued for a client before the session waits for it to read.",
        min=16_384,
        unit="bytes",
    )
    stream_literal_bytes: int = setting(
        1_048_576,
        help="FETCH reads a message this size or smaller whole; of a larger one it reads "
        "only the sections asked for, and streams any section larger than this from the "
        "message store to the client in chunks instead of holding it.",
        min=65_536,
        max=67_108_864,
        unit="bytes",
    )
    write_timeout_s: float = setting(
        60.0,
        help="A client that reads none of its queued responses for this long is disconnected.",
        min=1,
        unit="s",
    )
    fetch_cache_entries: int = setting(
        100_000,
        help="ENVELOPE, BODYSTRUCTURE and BODY answers kept written, by message content "
        "(a few hundred bytes each), so a client that fetches a mailbox's summaries again "
        "costs no parsing; 0 keeps none.",
        min=0,
        max=10_000_000,
    )
    compress_level: int = setting(
        6,
        help="zlib level (1 fastest to 9 smallest) of COMPRESS=DEFLATE (RFC 4978).",
        min=1,
        max=9,
    )
    compress_window_bits: int = setting(
        10,
        help="The deflate window of COMPRESS=DEFLATE, 2**bits octets: small keeps a "
        "compressed connection small (the client's inflate window stays 32 KiB).",
        min=9,
        max=15,
    )
    compress_mem_level: int = setting(
        1,
        help="zlib memLevel of COMPRESS=DEFLATE: 1 uses least memory, 9 compresses fastest.",
        min=1,
        max=9,
    )
    max_bad_commands: int = setting(
        20,
        help="BAD answers in a row (unknown commands, syntax errors, commands in the wrong "
        "state) after which a client gets BYE and is disconnected.",
        min=1,
        max=1000,
    )
    max_connections: int = setting(2000, help="Connections to IMAP at once, in all.", min=1)
    max_connections_per_address: int = setting(
        50, help="Connections at once from one client address.", min=1
    )


ACTIONS = ("accept", "mark", "reject")


@dataclass(frozen=True, slots=True)
class MailAuthConfig:
    authserv_id: str = setting(
        "",
        help="Our name in Authentication-Results (RFC 8601); empty means the SMTP host name.",
    )
    check_inbound: bool = setting(
        True,
        help="Check SPF, DKIM and DMARC on MX mail from unauthenticated clients outside "
        "`[smtp] trusted_networks`.",
    )
    dkim_verify_max_bytes: int = setting(
        10_485_760,
        help="Larger messages are not DKIM-verified (dkim=none, noted in "
        "Authentication-Results): the verifier needs the whole message.",
        min=0,
        unit="bytes",
    )
    spf_lookup_time_s: float = setting(
        20.0,
        help="Time for one SPF check (RFC 7208 §4.6.4 asks for at least 20 s).",
        min=1,
        unit="s",
    )
    spf_fail_action: str = setting(
        "mark", help="What SPF fail does: accept, mark (file as Junk) or reject.", choices=ACTIONS
    )
    dmarc_reject_action: str = setting(
        "reject",
        help="What a DMARC policy of reject does: accept, mark or reject.",
        choices=ACTIONS,
    )
    dmarc_quarantine_action: str = setting(
        "mark",
        help="What a DMARC policy of quarantine does: accept or mark.",
        choices=("accept", "mark"),
    )
    dkim_sign: bool = setting(
        True, help="Sign outgoing mail for domains that have keys (`roost dkim generate`)."
    )


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    workers: int = setting(4, help="Queue entries delivered at the same time.", min=1, max=1000)
    local_batch_max: int = setting(
        64,
        help="Due entries for local mailboxes only are delivered together, this many in one "
        "unit of work (one commit); 1 delivers each alone.",
        min=1,
        max=1000,
    )
    local_batch_max_bytes: int = setting(
        1024 * 1024,
        help="Larger messages are never batched: they are parsed as a stream, alone.",
        min=0,
        unit="bytes",
    )
    poll_interval_s: float = setting(
        5.0,
        help="Longest wait between two looks at the queue (new mail wakes the Spool at once).",
        min=0.01,
        unit="s",
    )
    lease_s: float = setting(
        600.0,
        help="How long a worker holds an entry it works on; after that (a crash) another "
        "worker may take it.",
        min=1,
        unit="s",
    )
    delivery_delay_s: float = setting(
        0.0,
        help="Seconds a new message waits in the queue before its first delivery.",
        min=0,
        unit="s",
    )
    retry_schedule_s: tuple[float, ...] = setting(
        (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0),
        help="Waits before the first, second, ... retry of a deferred recipient; after the "
        "last, `retry_every_s` applies.",
    )
    retry_every_s: float = setting(
        14400.0, help="Wait between retries once the schedule is used up.", min=1, unit="s"
    )
    delay_notice_after_s: float = setting(
        14400.0,
        help="A sender is told once that their message is delayed after this long; 0 turns "
        "delay notices off.",
        min=0,
        unit="s",
    )
    give_up_after_s: float = setting(
        432000.0,
        help="A recipient still deferred after this long fails (5 days).",
        min=60,
        unit="s",
    )
    return_full_max_bytes: int = setting(
        1_048_576,
        help="Failure notices carry the whole original up to this size, else its headers.",
        min=0,
        unit="bytes",
    )
    probe_overdue_s: float = setting(
        300.0,
        help="The Spool's probe fails when the oldest due entry has waited this long.",
        min=1,
        unit="s",
    )
    remote_port: int = setting(
        25, help="Port of other servers' SMTP (tests point it elsewhere).", min=1, max=65535
    )
    helo_name: str = setting(
        "", help="Name given in EHLO to other servers; empty means the node name."
    )
    connect_timeout_s: float = setting(
        30.0, help="Longest wait for another server to answer a connection.", min=1, unit="s"
    )
    max_connections_per_domain: int = setting(
        4, help="Connections at once to the servers of one destination domain.", min=1, max=100
    )
    connection_reuse_s: float = setting(
        5.0,
        help="An idle connection to another server is kept this long for the next message "
        "to it; 0 closes each after its message.",
        min=0,
        unit="s",
    )
    command_timeout_s: float = setting(
        300.0,
        help="Longest wait for another server's reply (RFC 5321 §4.5.3.2 asks for at "
        "least 5 minutes for MAIL, RCPT and the end of data).",
        min=1,
        unit="s",
    )
    tls_ca_file: str = setting(
        "",
        help="PEM file of CA certificates trusted besides the system's when Roost checks "
        "other servers' certificates (MTA-STS: MX hosts and policy hosts), for a private "
        "CA; empty trusts the system's CAs only.",
        path=True,
    )
    mta_sts: bool = setting(
        True,
        help="Honour the MTA-STS policies (RFC 8461) of destination domains: under `mode: "
        "enforce`, mail goes only to the MX hosts the policy names, over TLS with a "
        "certificate valid for the host. REQUIRETLS mail goes only to domains with such a "
        "policy (DANE is not validated); with this off, it is all returned.",
    )
    mta_sts_fetch_timeout_s: float = setting(
        60.0,
        help="Longest wait for a domain's MTA-STS policy over HTTPS (RFC 8461 §3.3 suggests "
        "one minute).",
        min=1,
        unit="s",
    )
    mta_sts_max_policy_bytes: int = setting(
        65536,
        help="A larger MTA-STS policy file is refused (RFC 8461 §3.3 suggests 64 KB).",
        min=1024,
        unit="bytes",
    )
    mta_sts_fetch_retry_s: float = setting(
        300.0,
        help="After a failed policy fetch, the same policy id is not fetched again for this "
        "long (RFC 8461 §3.3 suggests five minutes or more).",
        min=0,
        unit="s",
    )
    mta_sts_cache_max: int = setting(
        10000,
        help="Domains whose MTA-STS policies are kept in memory; past this, the oldest "
        "fetched is forgotten.",
        min=1,
    )


def _check_websocket_url(value: Any) -> str | None:
    text = str(value)
    if text and not re.fullmatch(r"wss?://[^\s/?#]+(/[^\s?#]*)?", text):
        return f"{text!r} is not a WebSocket URL (like wss://chat.example.org/xmpp-websocket)"
    return None


def _check_upload_url(value: Any) -> str | None:
    text = str(value)
    if text and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        return f"{text!r} is not an HTTP URL (like https://chat.example.org)"
    return None


@dataclass(frozen=True, slots=True)
class XmppServiceSettings:
    listen: tuple[str, ...] = setting(
        ("127.0.0.1:15222",),
        prod=("0.0.0.0:5222",),
        help="XMPP client listeners with STARTTLS (RFC 6120 §5), required before SASL "
        "unless the listener has no certificate.",
        check=check_listen,
    )
    tls_listen: tuple[str, ...] = setting(
        ("127.0.0.1:15223",),
        prod=("0.0.0.0:5223",),
        help="XMPP client listeners over direct TLS (XEP-0368).",
        check=check_listen,
    )
    login_timeout_s: float = setting(
        60.0,
        help="A client that has not bound a resource this long after connecting, or is "
        "silent this long before then, is disconnected.",
        min=5,
        max=3600,
        unit="s",
    )
    parser_rest_s: float = setting(
        2.0,
        help="A client silent this long between two stanzas lets go of its stream's XML "
        "parser (about 10 KiB a connection, which idle clients need not hold); a new one "
        "takes over, in some microseconds, when it speaks again. 0 keeps every parser.",
        min=0,
        max=3600,
        unit="s",
    )
    ping_after_s: float = setting(
        300.0,
        help="A bound client silent this long is sent a ping (XEP-0199 §4.2).",
        min=10,
        max=86_400,
        unit="s",
    )
    ping_timeout_s: float = setting(
        60.0,
        help="A pinged client that sends nothing within this time is closed with "
        "`connection-timeout` (RFC 6120 §4.9.3.4).",
        min=1,
        max=3600,
        unit="s",
    )
    max_stanza_bytes: int = setting(
        262_144,
        help="Largest stanza a client may send; a larger one ends the stream with "
        "`policy-violation` (RFC 6120 §13.12 asks for at least 10000).",
        min=10_000,
        max=16_777_216,
        unit="bytes",
    )
    max_depth: int = setting(
        64, help="Deepest element nesting in one stanza (`policy-violation`).", min=1, max=256
    )
    max_auth_failures: int = setting(
        3,
        help="Failed SASL attempts before the stream ends (RFC 6120 §6.4.5).",
        min=1,
        max=6,
    )
    outbound_queue_stanzas: int = setting(
        1000,
        help="Stanzas waiting for one client to read them; a client that lets more pile up "
        "has stopped reading and is closed, so that the router never waits for it.",
        min=10,
        max=1_000_000,
    )
    resume_timeout_s: float = setting(
        300.0,
        help="A client that enabled stream resumption (XEP-0198) and lost its connection "
        "keeps its session this long, to resume it without loss; then its unacknowledged "
        "messages go to offline storage or are bounced. 0 offers no resumption.",
        min=0,
        max=86_400,
        unit="s",
    )
    max_unacked_stanzas: int = setting(
        1000,
        help="Stanzas sent to a stream-managed client (XEP-0198) that it has not yet "
        "acknowledged; one more ends its stream with `resource-constraint`.",
        min=10,
        max=1_000_000,
    )
    output_buffer_bytes: int = setting(
        262_144,
        help="Output queued in the socket for one client before its stanzas wait in the "
        "outbound queue.",
        min=16_384,
        unit="bytes",
    )
    max_resources: int = setting(
        10, help="Sessions (resources) one account may have bound at once.", min=1, max=1000
    )
    resource_conflict: str = setting(
        "replace",
        help="A client binds a resource already bound (RFC 6120 §7.7.2.2): `replace` closes "
        "the old session with a `conflict` stream error, `refuse` refuses the new bind, "
        "`new` binds a fresh server-chosen resource instead.",
        choices=("replace", "refuse", "new"),
    )
    domain_roster: bool = setting(
        True,
        help="Every user of a hosted domain has every other user of it in the roster, "
        "with presence both ways, beside the contacts each user adds.",
    )
    domain_roster_off: tuple[str, ...] = setting(
        (), help="Domains for which `domain_roster` is off."
    )
    offline_max_messages: int = setting(
        1000,
        help="Chat and normal messages kept for one user while none of its clients is "
        "available (XEP-0160); a message beyond this is refused with `service-unavailable` "
        "(RFC 6121 §8.5.2.2.1).",
        min=0,
        max=1_000_000,
    )
    max_vcard_bytes: int = setting(
        65_536,
        help="Largest vCard (XEP-0054) a user may store; a larger one is refused with "
        "`not-acceptable`.",
        min=1024,
        max=16_777_216,
        unit="bytes",
    )
    max_private_bytes: int = setting(
        65_536,
        help="Largest element a user may keep in private XML storage (XEP-0049), per "
        "namespace; a larger one is refused with `not-acceptable`.",
        min=1024,
        max=16_777_216,
        unit="bytes",
    )
    max_connections: int = setting(10_000, help="Connections to XMPP at once, in all.", min=1)
    max_connections_per_address: int = setting(
        50, help="Connections at once from one client address.", min=1
    )
    archive_days: int = setting(
        30,
        help="Days each chat and normal message is kept in the sender's and the recipient's "
        "message archive (XEP-0313); 0 keeps no archive and does not advertise one.",
        min=0,
        max=36_500,
        unit="days",
    )
    archive_batch_max: int = setting(
        1000,
        help="Most archived messages written in one transaction. Messages are delivered "
        "without waiting for their archive write, and written together moments later; "
        "with this many waiting, routing waits until they are written.",
        min=1,
        max=100_000,
    )
    archive_page_max: int = setting(
        100,
        help="Most archived messages one archive query returns; a client pages for more "
        "(XEP-0059), and asks for fewer with `<max/>`.",
        min=1,
        max=10_000,
    )
    pep_max_items: int = setting(
        256,
        help="Most items one personal eventing node (XEP-0163) keeps, and what the "
        "publish-option `pubsub#max_items` `max` means; the oldest go first.",
        min=1,
        max=100_000,
    )
    pep_max_nodes: int = setting(
        256,
        help="Personal eventing nodes one account may have; publishing to one more is "
        "refused with `resource-constraint`.",
        min=1,
        max=100_000,
    )
    caps_cache_entries: int = setting(
        10_000,
        help="Verified client capabilities (XEP-0115 `ver` strings) remembered; beyond "
        "this the least recently seen are asked again.",
        min=10,
        max=1_000_000,
    )
    csi_queue_stanzas: int = setting(
        100,
        help="Presence and chat-state updates held for a client that said it is inactive "
        "(XEP-0352); beyond this, or when a message with a body or a stanza that needs an "
        "answer arrives, they are sent at once.",
        min=1,
        max=10_000,
    )
    muc: bool = setting(
        True,
        help="Multi-user chat (XEP-0045) at `conference.<domain>` for each hosted domain.",
    )
    muc_max_rooms_per_user: int = setting(
        20,
        help="Rooms one user may have created that exist at once (persistent ones and "
        "temporary ones in use); creating one more is refused with `resource-constraint`.",
        min=0,
        max=100_000,
    )
    muc_max_occupants: int = setting(
        200,
        help="Occupants of one room at once, and the most a room's owner may configure; a "
        "join beyond the room's limit is refused with `service-unavailable` (XEP-0045 §7.2.10).",
        min=1,
        max=100_000,
    )
    muc_max_room_name_chars: int = setting(
        64,
        help="Longest room name (the localpart of the room's JID) a user may create.",
        min=1,
        max=1023,
        unit="characters",
    )
    muc_max_nick_chars: int = setting(
        64,
        help="Longest nickname in a room; a longer one is refused with `not-acceptable`.",
        min=1,
        max=1023,
        unit="characters",
    )
    muc_history_default: int = setting(
        20,
        help="Messages a new room keeps to send to those who join (its owner may change it, "
        "up to `muc_history_max`).",
        min=0,
        max=10_000,
    )
    muc_history_max: int = setting(
        200,
        help="Most messages a room's history on join may hold.",
        min=0,
        max=10_000,
    )
    muc_alias_rooms: bool = setting(
        False,
        help="Each mail alias of a hosted domain is also a members-only room at "
        "`<alias localpart>@conference.<domain>` whose members are the accounts the alias "
        "delivers to.",
    )
    websocket_url: str = setting(
        "",
        help="The `ws:`/`wss:` URL of XMPP over WebSocket (RFC 7395) that XEP-0156 "
        "host-meta announces, for a web listener behind a proxy; empty: made from each "
        "request's scheme and host, with the path `/xmpp-websocket`.",
        check=_check_websocket_url,
    )
    upload_enabled: bool = setting(
        True,
        help="Offer HTTP file upload (XEP-0363) at `upload.DOMAIN` of every hosted domain, "
        "with the files on the web listener under `/upload/`.",
    )
    upload_max_file_bytes: int = setting(
        104_857_600,
        help="Largest file one upload slot may hold; a larger request is refused with "
        "`not-acceptable` and `<file-too-large/>` (XEP-0363 §5), and disco#info says it.",
        min=1,
        max=17_179_869_184,
        unit="bytes",
    )
    upload_quota_bytes: int = setting(
        1_073_741_824,
        help="Upload storage one user may hold (files stored and slots not yet used); a "
        "slot past it is refused with `resource-constraint`. 0 allows no uploads.",
        min=0,
        unit="bytes",
    )
    upload_expiry_days: int = setting(
        30,
        help="Days an uploaded file is kept, then deleted with its record; 0 keeps files "
        "until removed by hand.",
        min=0,
        max=36_500,
        unit="days",
    )
    upload_slot_ttl_s: float = setting(
        300.0,
        help="How long an upload slot may be used for its one PUT after it was given.",
        min=10,
        max=86_400,
        unit="s",
    )
    upload_prune_interval_s: float = setting(
        3600.0,
        help="How often expired uploads and unused slots are removed.",
        min=1,
        max=86_400,
        unit="s",
    )
    upload_url: str = setting(
        "",
        help="The public base URL of the upload routes, for a web listener behind a proxy "
        "(like `https://chat.example.org`); empty: the web listener's first HTTPS address "
        "(else its plaintext one), with the user's domain as host when it listens on all "
        "addresses.",
        check=_check_upload_url,
    )


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    interval_s: float = setting(
        60.0,
        help="How often each external account is fetched, unless the account sets its own "
        "interval.",
        min=5,
        max=86_400,
        unit="s",
    )
    max_concurrent: int = setting(
        10, help="Fetches at once, per retrieval service.", min=1, max=1000
    )
    jitter_s: float = setting(
        5.0,
        help="Each fetch is moved by up to this much at random, so accounts added together "
        "do not fetch together.",
        min=0,
        max=3600,
        unit="s",
    )
    backoff_max_s: float = setting(
        3600.0,
        help="After failures an account waits twice as long each time (from the interval) "
        "up to this.",
        min=5,
        max=86_400,
        unit="s",
    )
    max_message_bytes: int = setting(
        52_428_800,
        help="A remote message larger than this is skipped (and left on the server) with "
        "an error on the account.",
        min=1024,
        unit="bytes",
    )
    max_messages_per_run: int = setting(
        1000,
        help="Messages one fetch takes at most; the rest come with the next one.",
        min=1,
    )
    timeout_s: float = setting(
        60.0,
        help="Every network operation with a remote server (connect, command, read) ends "
        "after this.",
        min=1,
        max=3600,
        unit="s",
    )
    pop_line_bytes: int = setting(
        1_000_000,
        help="Longest line taken from a POP3 server (poplib's own limit is 2,048 bytes, "
        "which real mail exceeds).",
        min=2048,
        max=104_857_600,
        unit="bytes",
    )
    imap_part_bytes: int = setting(
        1_048_576,
        help="An IMAP message larger than this is fetched in parts of this size "
        "(`BODY.PEEK[]<offset.length>`), so no single response is huge.",
        min=1024,
        max=104_857_600,
        unit="bytes",
    )
    allow_plaintext: bool = setting(
        False,
        help="Allow external accounts without TLS to hosts other than loopback.",
    )
    ca_file: str = setting(
        "",
        help="A PEM file of certificate authorities trusted for remote servers besides "
        "the system's; empty: the system's only.",
        path=True,
    )
    idle_max_connections: int = setting(
        100,
        help="IMAP IDLE connections held at once by IMAP Retrieval (one per account whose "
        "server offers IDLE), so new mail comes within seconds; 0 turns IDLE off.",
        min=0,
        max=10_000,
    )
    idle_renew_s: float = setting(
        1500.0,
        help="A held IDLE is ended and begun again this often (RFC 2177: a server may "
        "drop it after 30 minutes).",
        min=10,
        max=1740,
        unit="s",
    )


@dataclass(frozen=True, slots=True)
class IndexingSettings:
    batch_messages: int = setting(
        200,
        help="Messages the indexer reads and commits as one unit of work.",
        min=1,
        max=10_000,
    )
    max_lag_s: float = setting(
        300.0,
        help="The health probe fails when the oldest change not yet indexed is older than this.",
        min=5,
        max=86_400,
        unit="s",
    )
    use_index: bool = setting(
        True,
        help="IMAP SEARCH uses the index for TEXT, BODY, SUBJECT, FROM, TO, CC and BCC "
        "where it holds the message; false scans every message.",
    )
    attachment_max_bytes: int = setting(
        10 * 1024 * 1024,
        help="Decoded size of one attachment read for its text (web search only); a "
        "larger attachment is indexed by its file name alone.",
        min=0,
        max=1024 * 1024 * 1024,
        unit="bytes",
    )
    attachment_max_chars: int = setting(
        1_000_000,
        help="Attachment text kept per message; past it the rest is left out.",
        min=0,
        max=100_000_000,
    )
    archive_max_bytes: int = setting(
        50 * 1024 * 1024,
        help="Uncompressed bytes read from one OOXML or ODF attachment (a zip archive).",
        min=0,
        max=1024 * 1024 * 1024,
        unit="bytes",
    )
    archive_max_ratio: int = setting(
        100,
        help="A member of an OOXML or ODF attachment that expands more than this many "
        "times its compressed size is skipped (a zip bomb).",
        min=1,
        max=10_000,
    )
    pdf_max_pages: int = setting(
        500,
        help="Pages of one PDF attachment read for their text.",
        min=0,
        max=100_000,
    )
    search_max_query_chars: int = setting(
        1000,
        help="Characters of one web search query; a longer one is refused with a message.",
        min=10,
        max=100_000,
    )
    search_max_terms: int = setting(
        16,
        help="Words and phrases one web search query may hold.",
        min=1,
        max=256,
    )
    search_max_per_page: int = setting(
        100,
        help="Results one page of a web search may ask for.",
        min=1,
        max=1000,
    )
    search_max_scanned: int = setting(
        2000,
        help="Messages (or contacts, events, tasks and notes) without a current index "
        "document (Indexing stopped or behind) that one web search reads itself, "
        "newest first; the rest are not searched and the answer says how many.",
        min=0,
        max=1_000_000,
    )
    search_max_ranked: int = setting(
        1000,
        help="Messages one web search ranks and pages: when more match, the newest this "
        "many are ranked and the answer says that more match (a common word then costs "
        "this many exact tests, not one per message). IMAP SEARCH always finds every one.",
        min=1,
        max=1_000_000,
    )


def _check_spf(value: Any) -> str | None:
    if not str(value).lower().startswith("v=spf1"):
        return f"{value!r} is not an SPF record (it starts with v=spf1)"
    return None


def _check_local_part(value: Any) -> str | None:
    if value and not re.fullmatch(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}", str(value)):
        return f"{value!r} is not the local part of an address (like dmarc-reports)"
    return None


@dataclass(frozen=True, slots=True)
class DnsSettings:
    nameservers: tuple[str, ...] = setting(
        (),
        help="DNS servers to ask (HOST:PORT); empty means those of /etc/resolv.conf.",
        check=check_listen,
    )
    timeout_s: float = setting(5.0, help="Longest wait for a DNS answer.", min=0.1, unit="s")
    mail_host: str = setting(
        "",
        help="The host name that a domain's MX, SRV and autoconfig records name (the admin "
        "console's DNS records to publish); empty means `[smtp] hostname`, else the node name.",
    )
    spf_record: str = setting(
        "v=spf1 mx -all",
        help="The SPF record (RFC 7208) to publish for every domain.",
        check=_check_spf,
    )
    dmarc_policy: str = setting(
        "none",
        help="The DMARC policy (RFC 7489 §6.3 `p=`) to publish: start with `none`, move to "
        "`quarantine` or `reject` once reports show every sender passes.",
        choices=("none", "quarantine", "reject"),
    )
    dmarc_report_to: str = setting(
        "",
        help="Local part that receives DMARC aggregate reports (`rua=mailto:LOCAL@DOMAIN`); "
        "empty publishes no `rua`.",
        check=_check_local_part,
    )
    check_concurrency: int = setting(
        8,
        help="DNS questions asked at once when the admin console checks a domain's records.",
        min=1,
        max=64,
    )


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: tuple[str, ...] = setting(
        ("127.0.0.1:8080",),
        prod=(),
        help="Plaintext HTTP listeners of the admin console, webmail and API "
        "(HOST:PORT). Port 0 picks a free port.",
        check=check_listen,
    )
    tls_listen: tuple[str, ...] = setting(
        ("127.0.0.1:8443",),
        prod=("0.0.0.0:443",),
        help="HTTPS listeners (HOST:PORT), with the certificate from `tls` in the data folder.",
        check=check_listen,
    )
    request_timeout_s: float = setting(
        30.0, help="Longest time to wait for a request's headers.", min=1, unit="s"
    )
    max_body_bytes: int = setting(
        1_048_576, help="Largest API request body.", min=1024, unit="bytes"
    )


@dataclass(frozen=True, slots=True)
class AdminSettings:
    session_idle_s: float = setting(
        1800.0,
        help="An admin console session not used for this long ends. The updates an open "
        "page asks for by itself do not count as use.",
        min=60,
        max=86_400,
        unit="s",
    )
    session_absolute_s: float = setting(
        43_200.0,
        help="An admin console session ends this long after its sign-in, used or not.",
        min=300,
        max=604_800,
        unit="s",
    )
    max_sessions_per_admin: int = setting(
        20,
        help="Sessions one admin may have at once; a new sign-in past it ends the oldest.",
        min=1,
        max=1000,
    )
    refresh_s: float = setting(
        2.0,
        help="How often an open admin page asks for the services' states (the Services "
        "page and the banner follow changes by themselves).",
        min=0.2,
        max=2.0,
        unit="s",
    )
    stale_after_s: float = setting(
        6.0,
        help="An admin page that has had no update for this long marks itself stale.",
        min=1,
        max=600,
        unit="s",
    )
    events_retention_days: int = setting(
        365,
        help="Events and audit entries older than this are removed (checked every "
        "`[store] blob_gc_interval_s`).",
        min=1,
        max=36_500,
        unit="days",
    )
    events_page_size: int = setting(
        100, help="Events shown on one page of /admin/events.", min=10, max=1000
    )
    directory_page_size: int = setting(
        50,
        help="Domains, users or aliases shown on one page of the admin console.",
        min=10,
        max=1000,
    )
    max_form_bytes: int = setting(
        65_536, help="Largest form an admin page accepts.", min=1024, max=524_288, unit="bytes"
    )
    totp_issuer: str = setting(
        "Roost",
        help="The issuer an authenticator app shows beside Roost's two-step sign-in codes.",
    )
    totp_window_steps: int = setting(
        1,
        help="Two-step codes of this many 30-second steps before or after now are accepted "
        "(RFC 6238 §5.2), for clocks that drift.",
        min=0,
        max=4,
    )
    dashboard_refresh_s: float = setting(
        5.0,
        help="How often an open dashboard asks for its numbers again.",
        min=1,
        max=300,
        unit="s",
    )
    disk_free_warning_percent: float = setting(
        10.0,
        help="The dashboard warns when the data folder's file system has less than this "
        "share of its space free.",
        min=0,
        max=100,
        unit="%",
    )
    database_size_warning_bytes: int = setting(
        10 * 1024**3,
        help="The dashboard warns when the database is larger than this.",
        min=0,
        unit="bytes",
    )
    spool_page_size: int = setting(
        50,
        help="Queue entries shown on one page of /admin/spool (at most 150: a form that "
        "ticks every row stays under the 200 fields a form may carry).",
        min=10,
        max=150,
    )
    spool_view_max_bytes: int = setting(
        262_144,
        help="Most of a queued message's source that /admin/spool shows (the rest is cut).",
        min=1024,
        max=524_288,
        unit="bytes",
    )


@dataclass(frozen=True, slots=True)
class WebmailSettings:
    session_idle_s: float = setting(
        1800.0,
        help="A webmail session not used for this long ends. The updates an open page asks "
        "for by itself do not count as use.",
        min=60,
        max=604_800,
        unit="s",
    )
    session_absolute_s: float = setting(
        86_400.0,
        help="A webmail session ends this long after its sign-in, used or not.",
        min=300,
        max=604_800,
        unit="s",
    )
    max_sessions_per_user: int = setting(
        20,
        help="Webmail sessions one mail user may have at once; a new sign-in past it ends "
        "the oldest.",
        min=1,
        max=1000,
    )
    max_form_bytes: int = setting(
        65_536, help="Largest form a webmail page accepts.", min=1024, max=524_288, unit="bytes"
    )
    max_folders: int = setting(
        1000,
        help="Folders one mail user may have; creating one more in the webmail is refused.",
        min=10,
        max=100_000,
    )
    page_size: int = setting(
        50,
        help="Messages on one page of the webmail's message list (at most 150: a form that "
        "ticks every row stays under the 200 fields a form may carry).",
        min=10,
        max=150,
    )
    search_page_size: int = setting(
        20,
        help="Results on one page of the webmail's search (each one reads the start of its "
        "message for the snippet); at most `[indexing] search_max_per_page`.",
        min=5,
        max=100,
    )
    summary_batch: int = setting(
        500,
        help="Messages the webmail summarises (sender, subject, attachments) in one unit of "
        "work when a folder is first sorted by sender or subject.",
        min=10,
        max=10_000,
    )
    max_view_chars: int = setting(
        500_000,
        help="Most of a message's text or HTML body the webmail's read pane shows (the rest "
        "is cut, with a note; the source view has it all).",
        min=10_000,
        max=900_000,
        unit="characters",
    )
    list_poll_s: float = setting(
        4.0,
        help="How often an open message list asks whether its folders changed (mail "
        "arrived, or a client changed flags or moved messages); it updates itself when "
        "they did. These requests do not keep a session alive.",
        min=1,
        max=60,
        unit="s",
    )
    max_conversation: int = setting(
        100,
        help="Most messages of one conversation in a folder that the read pane's "
        "conversation view shows (the oldest first; it says when there are more).",
        min=2,
        max=1000,
    )
    search_items_shown: int = setting(
        5,
        help="Contacts, events, tasks and notes the search page shows above the messages "
        "found; when more match, a link shows them all, a page at a time.",
        min=1,
        max=100,
    )
    thread_batch: int = setting(
        100,
        help="Messages the webmail files into conversations in one unit of work while it "
        "threads a folder in the background (the first time the folder is listed by "
        "conversation or a message in it is opened); a page that needs a message of its "
        "own threaded waits for the batch in hand.",
        min=10,
        max=10_000,
    )
    conversation_max_walk: int = setting(
        20_000,
        help="Messages one page of the list by conversation walks past at most (about "
        "50 ms at 20,000). Walking newest first, the older messages of conversations "
        "already shown are passed over; where they fill a longer stretch, the page stops "
        'there and its "next page" link goes on.',
        min=1000,
        max=1_000_000,
    )
    max_image_senders: int = setting(
        1000,
        help='Senders one mail user may let show remote images at once ("Always show '
        'images from this sender").',
        min=1,
        max=100_000,
    )
    compose_max_message_bytes: int = setting(
        26_214_400,
        help="Largest message the webmail sends or saves as a draft, attachments "
        "(base64, a third larger than the files) included; the smaller of this and "
        "[smtp] max_message_bytes applies.",
        min=65_536,
        max=1_073_741_824,
        unit="bytes",
    )
    compose_max_form_bytes: int = setting(
        4_194_304,
        help="Largest form the compose page sends (the text, the HTML and the recipients; "
        "attachments are uploaded apart).",
        min=65_536,
        max=67_108_864,
        unit="bytes",
    )
    compose_max_attachments: int = setting(
        100, help="Files one message written in the webmail may carry.", min=1, max=10_000
    )
    compose_max_open: int = setting(
        20,
        help="Messages one mail user may be writing at once with attachments uploaded; "
        "starting one more forgets the oldest one's uploads (its saved draft keeps them).",
        min=1,
        max=1000,
    )
    compose_autosave_s: float = setting(
        30.0,
        help="How often the compose page saves its draft by itself while it changes "
        "(and once more when the page is left).",
        min=1,
        max=3600,
        unit="s",
    )
    compose_max_references: int = setting(
        50,
        help="Message-IDs a reply keeps in References (the newest; RFC 5322 §3.6.4): a "
        "thread's first message and its last ones.",
        min=2,
        max=1000,
    )
    completion_scan_messages: int = setting(
        500,
        help="Newest messages of the Sent folder whose recipients the compose page offers "
        "as completions.",
        min=10,
        max=100_000,
    )
    completion_max_contacts: int = setting(
        5000,
        help="Contacts (address book cards) the compose page reads for completions.",
        min=10,
        max=1_000_000,
    )
    completion_max_results: int = setting(
        20, help="Completions the compose page offers for one query.", min=1, max=200
    )
    chat_token_ttl_s: float = setting(
        60.0,
        help="How long a web chat token lives: the webmail page gets one to sign in to XMPP "
        "over WebSocket (instead of the password) and uses it at once; it serves once.",
        min=5,
        max=600,
        unit="s",
    )
    chat_shown_chars: int = setting(
        10_000,
        help="Most of one chat message the web chat shows (the rest is cut, with a note); "
        "also the longest message it lets the user send.",
        min=500,
        max=100_000,
        unit="characters",
    )
    chat_rendered_messages: int = setting(
        300,
        help="Messages one conversation of the web chat keeps on the page; older ones "
        'leave the page (and come back from the archive with "Load older"), so that a '
        "flood keeps the page responsive.",
        min=50,
        max=5000,
    )
    calendar_max_shown: int = setting(
        2000,
        help="Most event occurrences one page of the webmail's calendar (a day, week or "
        "month) shows; past it the page says that some are left out.",
        min=50,
        max=100_000,
    )
    calendar_month_cell_events: int = setting(
        4,
        help="Events one day of the calendar's month view lists; the rest are counted as "
        '"+N more", a link to that day.',
        min=1,
        max=50,
    )
    tasks_max_listed: int = setting(
        1000,
        help="Most tasks the webmail's task list shows at once (open ones first).",
        min=50,
        max=100_000,
    )
    contacts_max_listed: int = setting(
        500,
        help="Contacts the webmail's Contacts page lists at once (the first by name; it "
        "says how many more there are: the search box narrows the list).",
        min=20,
        max=10_000,
    )
    contacts_import_max_bytes: int = setting(
        4_194_304,
        help="Largest .vcf file the webmail's Contacts page imports.",
        min=65_536,
        max=67_108_864,
        unit="bytes",
    )
    contacts_import_max_cards: int = setting(
        5000,
        help="Most cards one .vcf import may hold; a larger file is refused whole.",
        min=10,
        max=100_000,
    )
    notes_max_chars: int = setting(
        20_000,
        help="Longest note the webmail's Notes page saves (plain text; the form is also "
        "bounded by max_form_bytes).",
        min=1000,
        max=1_000_000,
        unit="characters",
    )
    notes_max_listed: int = setting(
        500,
        help="Notes the webmail's Notes page lists at once (the newest first).",
        min=20,
        max=10_000,
    )


@dataclass(frozen=True, slots=True)
class VacationSettings:
    default_period_days: int = setting(
        7,
        help="A sender hears a user's vacation reply at most once in this many days, unless "
        "the user sets another period (RFC 3834 §2).",
        min=1,
        max=365,
        unit="days",
    )
    max_period_days: int = setting(
        365, help="Longest reply period a user may set.", min=1, max=3650, unit="days"
    )
    max_text_chars: int = setting(
        4000,
        help="Longest vacation text a user may save (plain text).",
        min=100,
        max=100_000,
        unit="characters",
    )
    max_subject_chars: int = setting(
        200, help="Longest vacation subject a user may save.", min=20, max=998, unit="characters"
    )
    max_signature_chars: int = setting(
        2000,
        help="Longest signature (plain text) a user may save in the webmail's settings.",
        min=100,
        max=100_000,
        unit="characters",
    )


@dataclass(frozen=True, slots=True)
class DavSettings:
    max_resource_bytes: int = setting(
        1_048_576,
        help="Largest contact, event or task a CalDAV or CardDAV client may PUT; a larger "
        "one is refused with 413.",
        min=1024,
        max=67_108_864,
        unit="bytes",
    )
    max_xml_bytes: int = setting(
        262_144,
        help="Largest XML body of a PROPFIND, PROPPATCH, REPORT, MKCALENDAR or MKCOL request.",
        min=4096,
        max=16_777_216,
        unit="bytes",
    )
    max_xml_depth: int = setting(
        32, help="Deepest nesting of elements a DAV request body may have.", min=8, max=256
    )
    max_collections: int = setting(
        100,
        help="Calendars, task lists, address books and notes folders one user may have.",
        min=4,
        max=10_000,
    )
    max_items_per_collection: int = setting(
        100_000,
        help="Contacts, events, tasks or notes one collection may hold; a PUT past it is refused.",
        min=100,
        max=10_000_000,
    )
    max_attendees: int = setting(
        1000, help="Most attendees one event or task may name.", min=1, max=100_000
    )
    max_instances: int = setting(
        5000,
        help="Most occurrences of recurring events one calendar query expands or matches "
        "(a rule that never ends stops here).",
        min=100,
        max=1_000_000,
    )
    max_hrefs: int = setting(
        5000,
        help="Most resources one multiget REPORT may name.",
        min=10,
        max=100_000,
    )


@dataclass(frozen=True, slots=True)
class TlsSettings:
    host_names: tuple[str, ...] = setting(
        (),
        help="Names for the self-signed certificate made on first start when no "
        "certificate is configured; empty means the node name and `localhost`.",
    )
    cert_file: str = setting(
        "",
        help="PEM certificate chain to serve by default; empty uses `tls/` in the data "
        "folder (every `*.crt` there is served by SNI).",
        path=True,
    )
    key_file: str = setting(
        "", help="PEM private key of `cert_file` (required with it).", path=True
    )
    handshake_timeout_s: float = setting(
        15.0, help="A TLS handshake that takes longer is abandoned.", min=1, unit="s"
    )
    domain_host_names: tuple[str, ...] = setting(
        ("mail.{domain}", "{domain}"),
        help="Names a certificate installed for a hosted domain must cover; `{domain}` "
        "stands for the domain: its mail host name and its XMPP host name.",
    )
    expiry_warning_days: int = setting(
        30,
        help="A certificate this close to its expiry is a warning on the dashboard and an event.",
        min=1,
        max=365,
        unit="days",
    )
    expiry_critical_days: int = setting(
        7,
        help="A certificate this close to its expiry is a critical warning and a second event.",
        min=1,
        max=365,
        unit="days",
    )
    min_rsa_bits: int = setting(
        2048, help="Smallest RSA key an uploaded certificate may have.", min=2048, max=16384
    )
    max_chain_certificates: int = setting(
        8, help="Most certificates in one uploaded chain (leaf and issuers).", min=1, max=32
    )


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = setting("info", help="Default level of the log.", choices=LOG_LEVELS)
    levels: dict[str, str] = setting(
        {},
        help='Level per service or component, by name: `{ smtp = "debug" }`.',
        check=_check_levels,
    )
    file_max_bytes: int = setting(
        10_485_760, help="Size at which `logs/roost.log` is rotated.", min=1024, unit="bytes"
    )
    file_backups: int = setting(5, help="Rotated log files kept.", min=0, max=1000)


@dataclass(frozen=True, slots=True)
class Config:
    roost: RoostSettings = dataclasses.field(default_factory=RoostSettings)
    store: StoreSettings = dataclasses.field(default_factory=StoreSettings)
    directory: DirectorySettings = dataclasses.field(default_factory=DirectorySettings)
    auth: AuthSettings = dataclasses.field(default_factory=AuthSettings)
    supervisor: SupervisorSettings = dataclasses.field(default_factory=SupervisorSettings)
    smtp: SmtpSettings = dataclasses.field(default_factory=SmtpSettings)
    mailauth: MailAuthConfig = dataclasses.field(default_factory=MailAuthConfig)
    spool: SpoolSettings = dataclasses.field(default_factory=SpoolSettings)
    pop: PopSettings = dataclasses.field(default_factory=PopSettings)
    imap: ImapSettings = dataclasses.field(default_factory=ImapSettings)
    xmpp: XmppServiceSettings = dataclasses.field(default_factory=XmppServiceSettings)
    retrieval: RetrievalSettings = dataclasses.field(default_factory=RetrievalSettings)
    indexing: IndexingSettings = dataclasses.field(default_factory=IndexingSettings)
    dns: DnsSettings = dataclasses.field(default_factory=DnsSettings)
    web: WebSettings = dataclasses.field(default_factory=WebSettings)
    admin: AdminSettings = dataclasses.field(default_factory=AdminSettings)
    webmail: WebmailSettings = dataclasses.field(default_factory=WebmailSettings)
    vacation: VacationSettings = dataclasses.field(default_factory=VacationSettings)
    dav: DavSettings = dataclasses.field(default_factory=DavSettings)
    tls: TlsSettings = dataclasses.field(default_factory=TlsSettings)
    log: LogSettings = dataclasses.field(default_factory=LogSettings)
    source: str = "(defaults)"

    @property
    def production(self) -> bool:
        return self.roost.profile == "production"

    @property
    def data_dir(self) -> Path:
        return Path(self.roost.data_dir)

    @property
    def node(self) -> str:
        return self.roost.node_name or socket.gethostname()


def sections() -> list[tuple[str, type[Any]]]:
    """The sections of the file in order, as (name, dataclass)."""
    hints = typing.get_type_hints(Config)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(Config) if f.name != "source"]


def load(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (write one with `roost init --config {path}`)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse(text, source=str(path), base=path.parent)


def parse(text: str, *, source: str = "(text)", base: Path | None = None) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return build(raw, source=source, base=base or Path.cwd())


def build(raw: dict[str, Any], *, source: str, base: Path) -> Config:
    known = dict(sections())
    for name, value in raw.items():
        if name not in known:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(known)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table, not {value!r}")
    profile = raw.get("roost", {}).get("profile", "development")
    if profile not in PROFILES:
        raise ConfigError(
            f"{source}: [roost] profile = {profile!r}: must be one of {', '.join(PROFILES)}"
        )
    production = profile == "production"
    values = {
        name: _build_section(name, cls, raw.get(name, {}), source, base, production)
        for name, cls in known.items()
    }
    return Config(**values, source=source)


def _build_section(
    section: str,
    cls: type[Any],
    raw: dict[str, Any],
    source: str,
    base: Path,
    production: bool,
) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown key {key!r} in [{section}] (known: {', '.join(fields)})"
            )
    out: dict[str, Any] = {}
    for name, field in fields.items():
        info = info_of(field)
        where = f"{source}: [{section}] {name}"
        if name in raw:
            value = _coerce(raw[name], hints[name], where)
        else:
            dev = (
                field.default_factory()
                if field.default_factory is not dataclasses.MISSING
                else field.default
            )
            value = info.default(dev, production)
        problem = _check(value, info)
        if problem:
            raise ConfigError(f"{where} = {raw.get(name, value)!r}: {problem}")
        if info.path and value:
            value = str((base / value).resolve()) if not Path(value).is_absolute() else value
        out[name] = value
    return cls(**out)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{where} = {value!r}: expected {expected}")

    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    origin = typing.get_origin(hint)
    if origin is tuple and typing.get_args(hint)[0] is float:
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise bad("a list of numbers >= 0")
        return tuple(float(v) for v in value)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise bad("a table of strings")
        return dict(value)
    raise AssertionError(f"unsupported setting type {hint!r}")


def _check(value: Any, info: Any) -> str | None:
    if info.choices is not None and value not in info.choices:
        return f"must be one of {', '.join(info.choices)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if info.min is not None and value < info.min:
            return f"must be at least {info.min:g}"
        if info.max is not None and value > info.max:
            return f"must be at most {info.max:g}"
    if info.check is not None:
        problem: str | None = info.check(value)
        return problem
    return None


def default_config(profile: str = "development", data_dir: Path | None = None) -> Config:
    """The configuration a file with only a profile and a data folder gives."""
    raw: dict[str, Any] = {"roost": {"profile": profile}}
    if data_dir is not None:
        raw["roost"]["data_dir"] = str(data_dir)
    return build(raw, source="(defaults)", base=Path.cwd())
