"""The human-readable first part of a report (RFC 6522 §3, RFC 3464 §3):
per recipient, in plain words, what happened and what the sender can do.

The text is returned as `str` with CRLF line ends, wrapped at 76 columns;
the composer chooses its charset and transfer encoding.
"""

from __future__ import annotations

import textwrap

from roost.proto.dsn.fields import MAX_DIAGNOSTIC_CHARS, clean_text, format_date
from roost.proto.dsn.model import Action, Notice, NoticeKind, ReportedRecipient, Returned
from roost.proto.dsn.status import describe_status, status_advice

WRAP_COLUMNS = 76
_INDENT = "    "

_INTRO = {
    NoticeKind.FAILURE: (
        "Your message could not be delivered to {whom}. The mail system has "
        "given up and will not try again."
    ),
    NoticeKind.DELAY: (
        "Your message has not been delivered yet to {whom}. The mail system is "
        "still trying, so you do not need to send it again."
    ),
    NoticeKind.SUCCESS: "Here is the delivery report you asked for, about {whom}.",
}

_ACTIONS = {
    NoticeKind.FAILURE: (Action.FAILED,),
    NoticeKind.DELAY: (Action.DELAYED,),
    NoticeKind.SUCCESS: (Action.DELIVERED, Action.RELAYED, Action.EXPANDED),
}

_RETURNED = {
    Returned.FULL: "Your message is attached below.",
    Returned.HEADERS: "The header of your message is attached below; its text is not.",
    Returned.NONE: "",
}


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width=WRAP_COLUMNS,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _whom(count: int) -> str:
    return "the recipient below" if count == 1 else f"the {count} recipients below"


def _result(rcpt: ReportedRecipient) -> str:
    words = f"{describe_status(rcpt.status)} ({rcpt.status})"
    match rcpt.action:
        case Action.FAILED:
            return f"Result: delivery failed. {words}."
        case Action.DELAYED:
            return f"Result: not delivered yet. {words}."
        case Action.DELIVERED:
            return "Result: delivered to the recipient's mailbox."
        case Action.RELAYED:
            where = clean_text(rcpt.remote_mta or "another mail server", ascii_only=False)
            return (
                f"Result: passed on to {where}, which sends no delivery reports, "
                "so this is the last you will hear about this recipient."
            )
        case Action.EXPANDED:
            return (
                "Result: delivered to this address, which passed the message on "
                "to the members of its list or alias."
            )


def _what_to_do(rcpt: ReportedRecipient) -> str | None:
    match rcpt.action:
        case Action.FAILED:
            return f"What you can do: {status_advice(rcpt.status)}"
        case Action.DELAYED:
            until = (
                f" until {format_date(rcpt.will_retry_until)}"
                if rcpt.will_retry_until is not None
                else ""
            )
            return (
                f"What you can do: nothing for now. The mail system keeps trying{until}; "
                "if it gives up, you will get another notice."
            )
        case _:
            return None


def recipient_paragraph(rcpt: ReportedRecipient) -> list[str]:
    """The lines about one recipient."""
    address = clean_text(rcpt.final_recipient, ascii_only=False)
    lines = [f"<{address}>"]
    if rcpt.original_recipient is not None:
        original = clean_text(rcpt.original_recipient[1], ascii_only=False)
        if original.lower() != address.lower():
            lines.extend(_wrap(f"(you sent it to <{original}>)", _INDENT))
    lines.extend(_wrap(_result(rcpt), _INDENT))
    if rcpt.diagnostic:
        reply = clean_text(rcpt.diagnostic, ascii_only=False, limit=MAX_DIAGNOSTIC_CHARS)
        server = clean_text(rcpt.remote_mta, ascii_only=False) if rcpt.remote_mta else None
        said = f"The server {server} answered" if server else "The reason given was"
        lines.extend(_wrap(f"{said}: {reply}", _INDENT))
    if rcpt.last_attempt is not None and rcpt.action in (Action.FAILED, Action.DELAYED):
        lines.extend(_wrap(f"Last attempt: {format_date(rcpt.last_attempt)}.", _INDENT))
    advice = _what_to_do(rcpt)
    if advice is not None:
        lines.extend(_wrap(advice, _INDENT))
    return lines


def human_text(notice: Notice, returned: Returned) -> str:
    """The whole text part, CRLF line ends, ending in CRLF."""
    host = clean_text(notice.reporting_mta, ascii_only=False)
    lines = [f"This is the mail system at {host}.", ""]
    matching = sum(1 for r in notice.recipients if r.action in _ACTIONS[notice.kind])
    whom = _whom(matching or len(notice.recipients))
    lines.extend(_wrap(_INTRO[notice.kind].format(whom=whom)))
    lines.append("")
    sent = f"You sent the message on {format_date(notice.arrival_date)}"
    if notice.envid is not None:
        sent += f", with the envelope id {clean_text(notice.envid, ascii_only=False)}"
    lines.extend(_wrap(sent + "."))
    for rcpt in notice.recipients:
        lines.append("")
        lines.extend(recipient_paragraph(rcpt))
    lines.append("")
    closing = _RETURNED[returned]
    if closing:
        lines.extend([*_wrap(closing), ""])
    lines.extend(
        _wrap(
            "If you need help, forward this notice to your mail administrator. "
            "The next part repeats this report for mail programs."
        )
    )
    return "\r\n".join(lines) + "\r\n"
