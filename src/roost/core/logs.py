"""Logging: one line per session summary and per state change, to stderr
and to a rotating file in the data folder, with a level per component.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from roost.core.config import Config
from roost.core.errors import StartupError

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE = Path("logs") / "roost.log"


def logger_name(component: str) -> str:
    """`smtp` means the SMTP service's loggers; a dotted name is taken as it is."""
    if component.startswith("roost") or "." in component:
        return component
    return f"roost.services.{component.replace('-', '_')}"


def setup_logging(config: Config, *, to_file: bool = True) -> None:
    root = logging.getLogger("roost")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(config.log.level.upper())
    root.propagate = False
    formatter = logging.Formatter(LOG_FORMAT)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    root.addHandler(stderr)
    if to_file:
        path = config.data_dir / LOG_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                path, maxBytes=config.log.file_max_bytes, backupCount=config.log.file_backups
            )
        except OSError as exc:
            raise StartupError(f"cannot write the log file {path}: {exc.strerror}") from None
        rotating.setFormatter(formatter)
        root.addHandler(rotating)
    for component, level in config.log.levels.items():
        logging.getLogger(logger_name(component)).setLevel(level.upper())
    # Libraries speak only when something is wrong.
    for noisy in ("alembic", "uvicorn", "uvicorn.error", "sqlalchemy", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
