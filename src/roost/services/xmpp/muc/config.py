"""Room configuration (XEP-0045 §10.2) and its data form (XEP-0004).

`RoomConfig` is what a room is; `form` renders it as the
``muc#roomconfig`` form an owner gets (§10.2), `parse_submission` reads a
submitted form back (fields left out keep their value; a value of the
wrong shape is ``not-acceptable``), and `to_json`/`from_json` are how the
store keeps it. The fields are the registered ones (§15.5.3) for what
Roost implements, and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from roost.core.errors import RoostError
from roost.proto.xmpp import Element, StanzaErrorCondition

DATA_FORMS = "jabber:x:data"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"
WHOIS = ("moderators", "anyone")


class FormError(RoostError):
    def __init__(self, condition: StanzaErrorCondition, text: str) -> None:
        super().__init__(text)
        self.condition = condition


@dataclass(frozen=True, slots=True)
class RoomConfig:
    name: str = ""
    description: str = ""
    persistent: bool = False
    public: bool = True
    members_only: bool = False
    moderated: bool = False
    password: str = ""
    """Empty: no password (§10.2 ``passwordprotectedroom`` false)."""
    max_occupants: int = 200
    history_length: int = 20
    whois: str = "moderators"
    """Who sees occupants' real JIDs: a semi-anonymous room shows them to
    moderators only (§4.2)."""
    change_subject: bool = False
    """May participants change the subject (moderators always may)?"""
    allow_invites: bool = False
    """May participants invite to a members-only room (admins always may)?"""


@dataclass(frozen=True, slots=True)
class Limits:
    """The ceilings a form may not go past (settings)."""

    max_occupants: int
    max_history: int
    max_text_chars: int = 1024


_BOOLEANS = {
    "muc#roomconfig_persistentroom": "persistent",
    "muc#roomconfig_publicroom": "public",
    "muc#roomconfig_membersonly": "members_only",
    "muc#roomconfig_moderatedroom": "moderated",
    "muc#roomconfig_changesubject": "change_subject",
    "muc#roomconfig_allowinvites": "allow_invites",
}
_TEXTS = {
    "muc#roomconfig_roomname": "name",
    "muc#roomconfig_roomdesc": "description",
    "muc#roomconfig_roomsecret": "password",
}
_NUMBERS = {
    "muc#roomconfig_maxusers": "max_occupants",
    "muc#maxhistoryfetch": "history_length",
}
PROTECTED = "muc#roomconfig_passwordprotectedroom"
WHOIS_FIELD = "muc#roomconfig_whois"
_LABELS = {
    "muc#roomconfig_roomname": "Room name",
    "muc#roomconfig_roomdesc": "Description",
    "muc#roomconfig_persistentroom": "Keep the room when the last occupant leaves",
    "muc#roomconfig_publicroom": "List the room in the directory",
    "muc#roomconfig_membersonly": "Only members may enter",
    "muc#roomconfig_moderatedroom": "Only participants with voice may speak",
    PROTECTED: "A password is needed to enter",
    "muc#roomconfig_roomsecret": "Password",
    "muc#roomconfig_maxusers": "Most occupants at once",
    "muc#maxhistoryfetch": "Messages of history sent to those who enter",
    WHOIS_FIELD: "Who may see real addresses",
    "muc#roomconfig_changesubject": "Participants may change the subject",
    "muc#roomconfig_allowinvites": "Participants may invite others",
}


def _field(var: str, kind: str, values: list[str], options: tuple[str, ...] = ()) -> Element:
    children = [Element.of("value", DATA_FORMS, (), [v]) for v in values]
    children += [
        Element.of("option", DATA_FORMS, {"label": o}, [Element.of("value", DATA_FORMS, (), [o])])
        for o in options
    ]
    attributes = {"var": var, "type": kind, "label": _LABELS.get(var)}
    return Element.of("field", DATA_FORMS, attributes, children)


def _bool(value: bool) -> str:
    return "1" if value else "0"


def form(config: RoomConfig, title: str) -> Element:
    """The owner's configuration form (§10.2 example 163)."""
    items = [
        _field("FORM_TYPE", "hidden", [ROOMCONFIG]),
        _field("muc#roomconfig_roomname", "text-single", [config.name]),
        _field("muc#roomconfig_roomdesc", "text-single", [config.description]),
    ]
    items += [_field(var, "boolean", [_bool(getattr(config, a))]) for var, a in _BOOLEANS.items()]
    items.append(_field(PROTECTED, "boolean", [_bool(bool(config.password))]))
    items.append(_field("muc#roomconfig_roomsecret", "text-private", [config.password]))
    items += [_field(var, "text-single", [str(getattr(config, a))]) for var, a in _NUMBERS.items()]
    items.append(_field(WHOIS_FIELD, "list-single", [config.whois], WHOIS))
    title_element = Element.of("title", DATA_FORMS, (), [title])
    return Element.of("x", DATA_FORMS, {"type": "form"}, [title_element, *items])


def submitted_values(x: Element) -> dict[str, list[str]]:
    """The fields of a submitted form: var to its values."""
    values: dict[str, list[str]] = {}
    for field in x.elements():
        if field.matches("field", DATA_FORMS) and field.get("var"):
            var = field.get("var") or ""
            values[var] = [v.text for v in field.elements() if v.matches("value", DATA_FORMS)]
    return values


def parse_submission(x: Element, current: RoomConfig, limits: Limits) -> RoomConfig:
    """The configuration after an owner's submitted form (§10.2).

    Raises:
        FormError: a field's value is not one the field allows.
    """
    if x.get("type") != "submit":
        raise FormError(StanzaErrorCondition.BAD_REQUEST, "the form is not a submission")
    values = submitted_values(x)
    form_type = values.get("FORM_TYPE")
    if form_type is not None and form_type[:1] != [ROOMCONFIG]:
        raise FormError(StanzaErrorCondition.BAD_REQUEST, f"not a {ROOMCONFIG} form")
    changes: dict[str, object] = {}
    for var, attribute in _BOOLEANS.items():
        if var in values:
            changes[attribute] = _parse_bool(var, values[var])
    for var, attribute in _TEXTS.items():
        if var in values:
            text = "".join(values[var])
            if len(text) > limits.max_text_chars or any(ord(c) < 32 for c in text):
                raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var} is not acceptable")
            changes[attribute] = text
    for var, attribute in _NUMBERS.items():
        if var in values:
            changes[attribute] = _parse_number(var, values[var], limits)
    if WHOIS_FIELD in values:
        whois = "".join(values[WHOIS_FIELD])
        if whois not in WHOIS:
            raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{WHOIS_FIELD} is {whois!r}")
        changes["whois"] = whois
    config = replace(current, **changes)  # type: ignore[arg-type]
    if PROTECTED in values and not _parse_bool(PROTECTED, values[PROTECTED]):
        config = replace(config, password="")
    elif PROTECTED in values and not config.password:
        raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, "a password room needs a password")
    return config


def _parse_bool(var: str, values: list[str]) -> bool:
    text = "".join(values).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false", ""):
        return False
    raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var} is not a boolean")


def _parse_number(var: str, values: list[str], limits: Limits) -> int:
    text = "".join(values).strip()
    ceiling = limits.max_occupants if var == "muc#roomconfig_maxusers" else limits.max_history
    if text in ("", "none"):
        return ceiling
    try:
        number = int(text)
    except ValueError:
        raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var} is not a number") from None
    if number < 0 or number > ceiling:
        raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var} must be 0 to {ceiling}")
    if var == "muc#roomconfig_maxusers" and number == 0:
        raise FormError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var} must be at least 1")
    return number


def to_json(config: RoomConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


def from_json(text: str, default: RoomConfig) -> RoomConfig:
    """The stored configuration; fields it lacks (or garbles) keep ``default``."""
    try:
        stored = json.loads(text)
    except ValueError:
        return default
    if not isinstance(stored, dict):
        return default
    changes: dict[str, object] = {}
    for f in fields(RoomConfig):
        value = stored.get(f.name)
        if value is not None and type(value) is type(getattr(default, f.name)):
            changes[f.name] = value
    return replace(default, **changes)  # type: ignore[arg-type]


def features(config: RoomConfig) -> tuple[str, ...]:
    """The room's disco#info features that describe it (§6.4, §15.6)."""
    return (
        "muc_persistent" if config.persistent else "muc_temporary",
        "muc_public" if config.public else "muc_hidden",
        "muc_membersonly" if config.members_only else "muc_open",
        "muc_moderated" if config.moderated else "muc_unmoderated",
        "muc_passwordprotected" if config.password else "muc_unsecured",
        "muc_nonanonymous" if config.whois == "anyone" else "muc_semianonymous",
    )
