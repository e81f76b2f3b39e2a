"""Enhanced status codes in words (RFC 3463, and the IANA registry of
RFC 5248 for the codes added since), and what a sender can do about each.

`describe_status` gives the registry's short title of a code ("Bad
destination mailbox address"), falling back to the subject's "Other ..."
title for details it does not know. `status_advice` gives one or two
sentences of advice for the human-readable part of a notice.
"""

from __future__ import annotations

from roost.proto.dsn.model import DsnError

# RFC 3463 §3.1.
_CLASSES = {
    2: "Success",
    4: "Persistent transient failure",
    5: "Permanent failure",
}

# RFC 3463 §3.2, detail 0 of each subject.
_SUBJECTS = {
    0: "Other or undefined status",
    1: "Other address status",
    2: "Other or undefined mailbox status",
    3: "Other or undefined mail system status",
    4: "Other or undefined network or routing status",
    5: "Other or undefined protocol status",
    6: "Other or undefined media error",
    7: "Other or undefined security status",
}

# RFC 3463 §3.3-§3.9; later codes from RFC 3886, 4468, 4954, 5248, 6531,
# 6710, 7293, 7372, 7505, 8098 and 8689 as the IANA registry lists them.
_DETAILS = {
    (1, 1): "Bad destination mailbox address",
    (1, 2): "Bad destination system address",
    (1, 3): "Bad destination mailbox address syntax",
    (1, 4): "Destination mailbox address ambiguous",
    (1, 5): "Destination address valid",
    (1, 6): "Destination mailbox has moved, no forwarding address",
    (1, 7): "Bad sender's mailbox address syntax",
    (1, 8): "Bad sender's system address",
    (1, 9): "Message relayed to non-compliant mailer",
    (1, 10): "Recipient address has null MX",
    (2, 1): "Mailbox disabled, not accepting messages",
    (2, 2): "Mailbox full",
    (2, 3): "Message length exceeds administrative limit",
    (2, 4): "Mailing list expansion problem",
    (3, 1): "Mail system full",
    (3, 2): "System not accepting network messages",
    (3, 3): "System not capable of selected features",
    (3, 4): "Message too big for system",
    (3, 5): "System incorrectly configured",
    (3, 6): "Requested priority was changed",
    (4, 1): "No answer from host",
    (4, 2): "Bad connection",
    (4, 3): "Directory server failure",
    (4, 4): "Unable to route",
    (4, 5): "Mail system congestion",
    (4, 6): "Routing loop detected",
    (4, 7): "Delivery time expired",
    (4, 8): "Message too old for the requested priority",
    (5, 1): "Invalid command",
    (5, 2): "Syntax error",
    (5, 3): "Too many recipients",
    (5, 4): "Invalid command arguments",
    (5, 5): "Wrong protocol version",
    (5, 6): "Authentication exchange line is too long",
    (6, 1): "Media not supported",
    (6, 2): "Conversion required and prohibited",
    (6, 3): "Conversion required but not supported",
    (6, 4): "Conversion with loss performed",
    (6, 5): "Conversion failed",
    (6, 6): "Message content not available",
    (6, 7): "Non-ASCII addresses not permitted for that sender or recipient",
    (6, 8): "UTF-8 string reply is required, but not permitted by the client",
    (6, 9): "UTF-8 header message cannot be transferred to one or more recipients",
    (6, 10): "Conversion of the message's type is not possible",
    (7, 1): "Delivery not authorized, message refused",
    (7, 2): "Mailing list expansion prohibited",
    (7, 3): "Security conversion required but not possible",
    (7, 4): "Security features not supported",
    (7, 5): "Cryptographic failure",
    (7, 6): "Cryptographic algorithm not supported",
    (7, 7): "Message integrity failure",
    (7, 8): "Authentication credentials invalid",
    (7, 9): "Authentication mechanism is too weak",
    (7, 10): "Encryption needed",
    (7, 11): "Encryption required for requested authentication mechanism",
    (7, 12): "A password transition is needed",
    (7, 13): "User account disabled",
    (7, 14): "Trust relationship required",
    (7, 15): "Priority level is too low",
    (7, 16): "Message is too big for the specified priority",
    (7, 17): "Mailbox owner has changed",
    (7, 18): "Domain owner has changed",
    (7, 19): "RRVS test cannot be completed",
    (7, 20): "No passing DKIM signature found",
    (7, 21): "No acceptable DKIM signature found",
    (7, 22): "No valid author-matched DKIM signature found",
    (7, 23): "SPF validation failed",
    (7, 24): "SPF validation error",
    (7, 25): "Reverse DNS validation failed",
    (7, 26): "Multiple authentication checks failed",
    (7, 27): "Sender address has null MX",
    (7, 28): "Mail flood detected",
    (7, 29): "ARC validation failure",
    (7, 30): "REQUIRETLS support required",
}

_CHECK_ADDRESS = (
    "Check the address for typing mistakes. If it is right, the mailbox does not "
    "exist there any more: ask the recipient for their current address."
)
_TOO_BIG = (
    "Send a smaller message, for example by sharing large attachments through a link instead."
)
_AUTH = (
    "The receiving server could not confirm that the message really comes from your "
    "domain. Your mail administrator should check the domain's SPF and DKIM records."
)

_ADVICE_DETAIL = {
    (1, 1): _CHECK_ADDRESS,
    (1, 2): "The domain after the @ does not receive mail. Check its spelling.",
    (1, 3): "The address is not written correctly. Check it for stray characters.",
    (1, 6): "The recipient has moved and left no forwarding address. Ask them for a new one.",
    (1, 10): "The recipient's domain accepts no mail at all. Check the domain name.",
    (2, 1): "The recipient's mailbox is closed. Reach them another way.",
    (2, 2): "The recipient's mailbox is full. Try again later, or reach them another way.",
    (2, 3): _TOO_BIG,
    (3, 4): _TOO_BIG,
    (4, 4): "No mail server was found for the recipient's domain. Check the part after the @.",
    (4, 6): "The message went round in a loop between mail servers. Tell your mail administrator.",
    (4, 7): (
        "The receiving server could not be reached for the whole retry period. "
        "Try again later, or reach the recipient another way."
    ),
    (6, 7): "The receiving system does not accept addresses with international characters.",
    (7, 1): (
        "The receiving server refused the message by its policy (for example as "
        "unwanted mail). If you think this is a mistake, contact the recipient "
        "another way or ask your mail administrator."
    ),
    (7, 20): _AUTH,
    (7, 21): _AUTH,
    (7, 22): _AUTH,
    (7, 23): _AUTH,
    (7, 24): _AUTH,
    (7, 26): _AUTH,
}

_ADVICE_SUBJECT = {
    0: "If you need help, forward this notice to your mail administrator.",
    1: "Check the recipient's address.",
    2: "There is a problem with the recipient's mailbox. Try again later, "
    "or reach them another way.",
    3: "The receiving mail system has a problem. Try again later.",
    4: "The receiving server could not be reached. This is often temporary: try again later.",
    5: "The mail servers could not understand each other. Tell your mail administrator.",
    6: "The receiving system cannot handle the message's format. Try sending it as "
    "plain text or without attachments.",
    7: "The message was refused for security or policy reasons. Your mail administrator can help.",
}


def parse_status(status: str) -> tuple[int, int, int]:
    """(class, subject, detail) of an enhanced status code (RFC 3463 §2);
    raises `DsnError` when `status` is not one."""
    parts = status.split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        raise DsnError(f"status {status!r} is not an RFC 3463 code")
    cls, subject, detail = (int(p) for p in parts)
    if cls not in _CLASSES:
        raise DsnError(f"status class {cls} is not 2, 4 or 5 (RFC 3463 §3.1)")
    return cls, subject, detail


def describe_class(status: str) -> str:
    """The RFC 3463 §3.1 title of the code's class ("Permanent failure")."""
    return _CLASSES[parse_status(status)[0]]


def describe_status(status: str) -> str:
    """The registry title of `status` ("Mailbox full" for 4.2.2 or 5.2.2);
    for an unknown detail, its subject's title (RFC 3463 §3.2)."""
    _, subject, detail = parse_status(status)
    title = _DETAILS.get((subject, detail))
    if title is not None:
        return title
    return _SUBJECTS.get(subject, _SUBJECTS[0])


def status_advice(status: str) -> str:
    """One or two sentences telling the sender what to do about a failure
    or delay with this code."""
    _, subject, detail = parse_status(status)
    advice = _ADVICE_DETAIL.get((subject, detail))
    if advice is not None:
        return advice
    return _ADVICE_SUBJECT.get(subject, _ADVICE_SUBJECT[0])
