"""Settings: where the database is, who is at the desk, and the platform's directories."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "waitlist-tui"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_db_url() -> str:
    return str(data_dir() / "waitlist.db")


def demo_db_url() -> str:
    """The demo lives in its own file so that it never mixes with a real waitlist."""
    return str(data_dir() / "demo.db")


def default_staff() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "desk"


@dataclass(frozen=True)
class Settings:
    db_url: str
    staff: str
    role: str | None = None  # "desk" or "manager" from the served desk; None: a local desk

    @classmethod
    def resolve(cls, db: str | None = None, staff: str | None = None) -> Settings:
        return cls(
            db_url=db or os.environ.get("WAITLIST_DB") or default_db_url(),
            staff=(staff or os.environ.get("WAITLIST_STAFF") or default_staff()).strip(),
        )
