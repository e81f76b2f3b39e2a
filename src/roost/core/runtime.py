"""The file a running Roost leaves in its data folder for the local CLI.

`run/api.json` (mode 0600) names the API's address and the CLI's token; it
exists only while Roost runs. Whoever can read it can already read the whole
data folder, so the token gives nothing more.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RUNTIME_FILE = Path("run") / "api.json"


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    pid: int
    url: str
    token: str
    cafile: str | None
    """The certificate to trust when `url` is https (self-signed)."""


def write_runtime(data_dir: Path, info: RuntimeInfo) -> Path:
    path = data_dir / RUNTIME_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(info), handle)
    os.replace(tmp, path)
    return path


def read_runtime(data_dir: Path) -> RuntimeInfo | None:
    """The running instance's API, or None when none runs (or its file is stale)."""
    path = data_dir / RUNTIME_FILE
    try:
        raw = json.loads(path.read_text())
        info = RuntimeInfo(
            pid=int(raw["pid"]),
            url=str(raw["url"]),
            token=str(raw["token"]),
            cafile=raw.get("cafile"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info


def remove_runtime(data_dir: Path) -> None:
    (data_dir / RUNTIME_FILE).unlink(missing_ok=True)
