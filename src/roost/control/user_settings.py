"""A mail user's own settings: profile, time zone and vacation reply.

The webmail's settings pages change them; compose reads the display name,
signature and reply-to (`UserSettings.get`); the Spool's vacation step
reads the vacation (`roost.services.spool.vacation`). Every check is made
here, once, with a message a user can act on.

Texts are plain text. A vacation text or signature that contains HTML tags
is refused rather than stored: the reply goes out as `text/plain`, and a
user who pasted HTML would otherwise see their markup sent verbatim to
every correspondent.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from roost.core.config import VacationSettings
from roost.core.errors import RoostError
from roost.store.db import Tx
from roost.store.store import Store
from roost.store.user_settings import StoredSettings

DEFAULT_TIME_ZONE = "UTC"
MAX_DISPLAY_NAME_CHARS = 200
MAX_ADDRESS_CHARS = 320
VACATION_SUBJECT_PREFIX = "Auto: "

_HTML_TAG = re.compile(
    r"<\s*/?\s*(?:a|abbr|b|big|blockquote|body|br|center|code|div|em|font|form|h[1-6]|head|"
    r"hr|html|i|iframe|img|input|li|link|meta|object|ol|p|pre|s|script|small|span|strong|"
    r"style|sub|sup|svg|table|tbody|td|th|thead|title|tr|u|ul)\b[^>]*>|<!--|<!doctype",
    re.IGNORECASE,
)
"""Tags of HTML, not any `<...>`: a plain text may well say `<bob@example.org>`."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n]")


class SettingsRefused(RoostError):
    """A setting that cannot be saved as given (the reason in words)."""


@dataclass(frozen=True, slots=True)
class Vacation:
    enabled: bool
    start: date | None
    end: date | None
    subject: str
    """As the user set it; empty means "Auto: " and the original subject."""
    text: str
    period_days: int
    """The period in force: the user's own, or the configured default."""
    own_period: bool
    """Whether the user set the period (else it follows the configuration)."""

    def active_on(self, day: date) -> bool:
        """Whether the reply is on for the user's calendar day `day`."""
        if not self.enabled:
            return False
        if self.start is not None and day < self.start:
            return False
        return not (self.end is not None and day > self.end)

    def subject_for(self, original: str) -> str:
        return self.subject or VACATION_SUBJECT_PREFIX + original


@dataclass(frozen=True, slots=True)
class Settings:
    """What a user set, with the defaults filled in."""

    address: str
    display_name: str
    """The user's own, or the account's display name when they set none."""
    signature: str
    reply_to: str
    """An address, or "" (replies go to the sender)."""
    time_zone: str
    vacation: Vacation
    conversation_view: bool = False
    """The webmail lists folders by conversation."""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA names this machine knows."""
    return frozenset(zoneinfo.available_timezones()) | {DEFAULT_TIME_ZONE}


def check_time_zone(name: str) -> str:
    name = name.strip()
    if not name:
        return DEFAULT_TIME_ZONE
    if name not in time_zones():
        raise SettingsRefused(
            f"{name[:64]!r} is not a time zone name: use an IANA name such as "
            "Europe/Paris or America/New_York."
        )
    return name


def contains_html(text: str) -> bool:
    return _HTML_TAG.search(text) is not None


def parse_day(text: str, what: str) -> date | None:
    """A calendar day as a date field sends it (YYYY-MM-DD); empty is None."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SettingsRefused(f"The {what} {text[:20]!r} is not a date (YYYY-MM-DD).") from None


def check_address(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        return ""
    name, address = parseaddr(text)
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(address) > MAX_ADDRESS_CHARS
        or any(c.isspace() or c in '<>,;"' for c in address)
        or name
        or any(c in text for c in ",;")
    ):
        raise SettingsRefused(
            f"The {what} {text[:80]!r} is not one e-mail address (name@example.org)."
        )
    return address


def _check_text(text: str, what: str, limit: int) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        raise SettingsRefused(f"The {what} is {len(text)} characters long; at most {limit}.")
    if contains_html(text):
        raise SettingsRefused(
            f"The {what} is plain text: it may not contain HTML tags such as <p> or <b>. "
            "Write it as you want it read; links and addresses may be written out."
        )
    if _CONTROL.search(text):
        raise SettingsRefused(f"The {what} contains control characters.")
    return text


def _check_line(text: str, what: str, limit: int) -> str:
    text = text.strip()
    if _LINE_BREAK.search(text) or _CONTROL.search(text):
        raise SettingsRefused(f"The {what} must be one line of text.")
    if len(text) > limit:
        raise SettingsRefused(f"The {what} is {len(text)} characters long; at most {limit}.")
    return text


def settings_of(
    address: str, account_display_name: str, stored: StoredSettings | None, limits: VacationSettings
) -> Settings:
    s = stored or StoredSettings()
    period = s.vacation_period_days
    return Settings(
        address=address,
        display_name=s.display_name or account_display_name,
        signature=s.signature,
        reply_to=s.reply_to,
        time_zone=s.time_zone if s.time_zone in time_zones() else DEFAULT_TIME_ZONE,
        vacation=Vacation(
            enabled=s.vacation_enabled,
            start=s.vacation_start,
            end=s.vacation_end,
            subject=s.vacation_subject,
            text=s.vacation_text,
            period_days=period if period is not None else limits.default_period_days,
            own_period=period is not None,
        ),
        conversation_view=s.conversation_view,
    )


class UserSettings:
    """Read and change a user's own settings, by the user's address."""

    def __init__(self, store: Store, limits: VacationSettings) -> None:
        self._store = store
        self._limits = limits

    @property
    def limits(self) -> VacationSettings:
        return self._limits

    async def get(self, account: str) -> Settings:
        """The settings of `account` (an address), defaults filled in."""
        store = self._store

        async def work(tx: Tx) -> Settings:
            found = await store.directory.account(tx, account)
            stored = await store.user_settings.get(tx, found.id)
            return settings_of(found.address, found.display_name, stored, self._limits)

        return await store.read(work)

    async def update_profile(
        self, account: str, *, display_name: str, signature: str, reply_to: str, time_zone: str
    ) -> Settings:
        name = _check_line(display_name, "display name", MAX_DISPLAY_NAME_CHARS)
        text = _check_text(signature, "signature", self._limits.max_signature_chars)
        reply = check_address(reply_to, "reply-to address")
        zone = check_time_zone(time_zone)

        def change(current: StoredSettings) -> StoredSettings:
            return StoredSettings(
                display_name=name,
                signature=text,
                reply_to=reply,
                time_zone=zone,
                vacation_enabled=current.vacation_enabled,
                vacation_start=current.vacation_start,
                vacation_end=current.vacation_end,
                vacation_subject=current.vacation_subject,
                vacation_text=current.vacation_text,
                vacation_period_days=current.vacation_period_days,
                conversation_view=current.conversation_view,
            )

        return await self._change(account, change, forget=False)

    async def set_conversation_view(self, account: str, on: bool) -> Settings:
        """List folders by conversation (True) or by message."""
        return await self._change(
            account, lambda current: replace(current, conversation_view=on), forget=False
        )

    async def update_vacation(
        self,
        account: str,
        *,
        enabled: bool,
        start: date | None,
        end: date | None,
        subject: str,
        text: str,
        period_days: int | None,
    ) -> Settings:
        """Set the vacation reply. Saving it starts a new vacation: everyone who
        heard the old one hears the new one once."""
        limits = self._limits
        if start is not None and end is not None and end < start:
            raise SettingsRefused(
                f"The last day ({end.isoformat()}) is before the first day ({start.isoformat()})."
            )
        subject = _check_line(subject, "vacation subject", limits.max_subject_chars)
        if contains_html(subject):
            raise SettingsRefused("The vacation subject is plain text: no HTML tags.")
        body = _check_text(text, "vacation text", limits.max_text_chars)
        if enabled and not body.strip():
            raise SettingsRefused("Write the text of the vacation reply before switching it on.")
        if period_days is not None and not 1 <= period_days <= limits.max_period_days:
            raise SettingsRefused(
                f"The reply period is a number of days from 1 to {limits.max_period_days}."
            )

        def change(current: StoredSettings) -> StoredSettings:
            return StoredSettings(
                display_name=current.display_name,
                signature=current.signature,
                reply_to=current.reply_to,
                time_zone=current.time_zone,
                vacation_enabled=enabled,
                vacation_start=start,
                vacation_end=end,
                vacation_subject=subject,
                vacation_text=body,
                vacation_period_days=period_days,
                conversation_view=current.conversation_view,
            )

        return await self._change(account, change, forget=True)

    async def _change(
        self,
        account: str,
        change: Callable[[StoredSettings], StoredSettings],
        *,
        forget: bool,
    ) -> Settings:
        store = self._store

        async def work(tx: Tx) -> Settings:
            found = await store.directory.account(tx, account)
            current = await store.user_settings.get(tx, found.id) or StoredSettings()
            new = change(current)
            await store.user_settings.put(tx, found.id, new)
            if forget:
                await store.user_settings.forget_replies(tx, found.id)
            return settings_of(found.address, found.display_name, new, self._limits)

        return await store.write(work)


def today_in(settings: Settings, now: datetime) -> date:
    """The user's calendar day at `now`."""
    return now.astimezone(settings.zone).date()


def period_of(vacation: Vacation) -> timedelta:
    return timedelta(days=vacation.period_days)
