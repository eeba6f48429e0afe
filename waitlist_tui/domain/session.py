"""The database as the screens and the CLI may hold it: open it, close it, and run reads on a
connection of their own. They import this and never the store (an import-linter wall), so
that a query, a model or a peewee error never leaks above the domain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from peewee import OperationalError

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store import db as _db
from waitlist_tui.domain.store.connect import connect as _connect


def open_database(url: str) -> None:
    """Open the database at `url` for this process, its schema brought up to date.

    A file that cannot be opened (a directory, no permission, a server that refuses) is a
    ValidationError on the `db` field, so callers above the domain catch no peewee error."""
    try:
        _connect(url)
    except OperationalError as exc:
        raise ValidationError(f"cannot open database {url}: {exc}", field="db") from exc


def close_database() -> None:
    _db.database.close()


def rebuild_stats(actor: str, check: bool = False) -> dict[str, Any]:
    """Housekeeping over the whole database (`maintenance rebuild-stats`): recompute the stats
    rollups from the raw rows and reinstall their triggers (store.maintenance says how).
    Imported when called: no desk needs it at start-up."""
    from waitlist_tui.domain.store.maintenance import rebuild_stats as rebuild

    return rebuild(actor, check=check)


@contextmanager
def connection() -> Iterator[None]:
    """A connection for this thread while the block runs (a worker's reads and writes)."""
    with _db.database.connection_context():
        yield

