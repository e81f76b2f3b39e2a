"""The configuration reference and the example file, written from the schema.

`python -m roost.core.configdoc` prints docs/configuration.md;
`python -m roost.core.configdoc --example` prints roost.example.toml. Tests
check that both files in the repository match what the schema says.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from typing import Any

from roost.core.config import sections
from roost.core.settings import info_of, is_same

SECTION_HELP = {
    "roost": "The profile, the data folder and this node's name.",
    "store": "Where Roost keeps its data: the embedded SQLite store or PostgreSQL.",
    "directory": "Password hashing, the login cache, the recipient delimiter and quotas.",
    "auth": "Sign-in policy and throttling, shared by every protocol and the web.",
    "supervisor": "How services are started, probed, restarted and stopped.",
    "smtp": "The SMTP service: listeners for other servers (MX) and for users (submission).",
    "mailauth": "SPF, DKIM and DMARC for incoming mail, and DKIM signing of outgoing mail.",
    "spool": "The queue every message passes through: delivery, retries and notices.",
    "pop": "The POP service: mailbox download over POP3 (RFC 1939) with STLS or implicit TLS.",
    "imap": "The IMAP service: mailbox access over IMAP4rev2 and IMAP4rev1 (RFC 9051, RFC 3501).",
    "xmpp": "The XMPP service: chat for every mail account (RFC 6120, RFC 6121).",
    "retrieval": "IMAP Retrieval and POP Retrieval: users' mail fetched from other servers.",
    "indexing": "The Indexing service: the full-text index behind IMAP SEARCH.",
    "dns": "How Roost asks DNS: MX records, and later SPF, DKIM, DMARC and MTA-STS.",
    "web": "The web listener: admin console, webmail, JSON API, health and metrics.",
    "admin": "The admin console: sessions, live updates, and the event log's retention.",
    "webmail": "The webmail under /mail: mail users' sessions and the limits of its pages.",
    "vacation": "Users' settings: vacation auto-replies (RFC 3834) and the limits of the "
    "webmail's settings pages.",
    "dav": "CalDAV and CardDAV under /dav on the web listener: the limits of requests.",
    "tls": "Certificates for every TLS listener.",
    "log": "Log levels and the log file in the data folder.",
}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _defaults(field: dataclasses.Field[Any]) -> tuple[Any, Any]:
    info = info_of(field)
    dev = (
        field.default_factory()
        if field.default_factory is not dataclasses.MISSING
        else field.default
    )
    prod = dev if is_same(info.prod) else info.prod
    return dev, prod


def render_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Roost reads one TOML file, `roost.toml` by default (`--config FILE` or the",
        "`ROOST_CONFIG` environment variable name another). Every key is optional:",
        "an absent key takes the default of the profile. An unknown key or a bad value",
        "stops Roost with a message naming the key, the value and the file.",
        "`roost init` writes a starting file; `roost.example.toml` lists every key.",
        "",
        "This page is generated from the schema (`make docs`); a test keeps it current.",
        "",
    ]
    for name, cls in sections():
        lines += [f"## [{name}]", "", SECTION_HELP[name], ""]
        lines += ["| key | type | development | production | meaning |", "|---|---|---|---|---|"]
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            info = info_of(field)
            dev, prod = _defaults(field)
            kind = _kind(hints[field.name]) + (f" ({info.unit})" if info.unit else "")
            bounds = []
            if info.min is not None:
                bounds.append(f"≥ {info.min:g}")
            if info.max is not None:
                bounds.append(f"≤ {info.max:g}")
            if info.choices:
                bounds.append("one of " + ", ".join(f"`{c}`" for c in info.choices))
            meaning = info.help + (f" ({'; '.join(bounds)})" if bounds else "")
            lines.append(
                f"| `{field.name}` | {kind} | `{_toml(dev)}` | `{_toml(prod)}` | {meaning} |"
            )
        lines.append("")
    return "\n".join(lines)


def _kind(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return "list of numbers" if typing.get_args(hint)[0] is float else "list of strings"
    if typing.get_origin(hint) is dict:
        return "table of strings"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}[hint]


def render_toml(profile: str | None = None, data_dir: str | None = None) -> str:
    """A file with every key commented out at its default, but for the profile
    and data folder when given (what `roost init` writes)."""
    lines = [
        "# Roost configuration. Every key is optional; a commented key shows its",
        "# default for the chosen profile. Reference: docs/configuration.md",
        "",
    ]
    production = profile == "production"
    for name, cls in sections():
        lines += [f"[{name}]", f"# {SECTION_HELP[name]}"]
        for field in dataclasses.fields(cls):
            info = info_of(field)
            dev, prod = _defaults(field)
            value = prod if production else dev
            lines.append("")
            lines += [f"# {chunk}" for chunk in _wrap(info.help)]
            if not is_same(info.prod) and profile is None:
                lines.append(f"# (production default: {_toml(prod)})")
            if name == "roost" and field.name == "profile" and profile is not None:
                lines.append(f"profile = {_toml(profile)}")
            elif name == "roost" and field.name == "data_dir" and data_dir is not None:
                lines.append(f"data_dir = {_toml(data_dir)}")
            else:
                lines.append(f"# {field.name} = {_toml(value)}")
        lines.append("")
    return "\n".join(lines)


def _wrap(text: str, width: int = 76) -> list[str]:
    out: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(line)
    return out


def main(argv: list[str]) -> None:
    if "--example" in argv:
        sys.stdout.write(render_toml())
    else:
        sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main(sys.argv[1:])
