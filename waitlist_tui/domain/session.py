"""The database as the screens and the CLI may hold it: open it, close it, and run reads on a
connection of their own. They import this and never the store (an import-linter wall), so
that a query, a model or a peewee error never leaks above the domain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from waitlist_tui.domain.store import db as _db
from waitlist_tui.domain.store.connect import connect as _connect


def open_database(url: str) -> None:
    """Open the database at `url` for this process, its schema brought up to date."""
    _connect(url)


def close_database() -> None:
    _db.database.close()


@contextmanager
def connection() -> Iterator[None]:
    """A connection for this thread while the block runs (a worker's reads and writes)."""
    with _db.database.connection_context():
        yield
