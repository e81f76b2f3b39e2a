"""How a setting is declared: one schema drives the file, the docs and the checks.

Each section of the configuration is a frozen dataclass whose fields are
declared with `setting(...)`. The field's type says how a TOML value is read;
its metadata carries the help text, the production default (when it differs
from the development one) and the bounds. `config.py` reads files with it,
`configdoc.py` writes the reference and the example file from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_SAME: Any = object()


@dataclass(frozen=True, slots=True)
class SettingInfo:
    help: str
    prod: Any
    min: float | None
    max: float | None
    choices: tuple[str, ...] | None
    check: Callable[[Any], str | None] | None
    path: bool
    unit: str

    def default(self, dev: Any, production: bool) -> Any:
        return self.prod if production and self.prod is not _SAME else dev


def setting(
    default: T,
    *,
    help: str,
    prod: Any = _SAME,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
    path: bool = False,
    unit: str = "",
) -> T:
    """Declare one option. `default` is the development profile's value."""
    info = SettingInfo(help, prod, min, max, choices, check, path, unit)
    metadata = {"roost": info}
    if isinstance(default, dict | list):
        frozen = default
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def info_of(field: dataclasses.Field[Any]) -> SettingInfo:
    info = field.metadata.get("roost")
    assert isinstance(info, SettingInfo), f"field {field.name} is not declared with setting()"
    return info


def is_same(value: Any) -> bool:
    return value is _SAME


def check_listen(value: Any) -> str | None:
    """Listener addresses are "HOST:PORT" ("[::1]:143" for IPv6)."""
    for item in value:
        try:
            parse_listen(item)
        except ValueError as exc:
            return str(exc)
    return None


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{text!r} is not HOST:PORT")
        host = host[1:-1]
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} in {text!r} is out of range")
    return host, port
