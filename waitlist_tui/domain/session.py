"""The database as the screens and the CLI may hold it: open it, close it, and run reads on a
connection of their own or on one held open between reads. They import this and never the
store (an import-linter wall), so that a query, a model or a peewee error never leaks above
the domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from peewee import Database, InterfaceError, OperationalError

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store import db as _db
from waitlist_tui.domain.store.connect import connect as _connect

T = TypeVar("T")


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


class HeldConnection:
    """A connection that one thread keeps open between reads (the TUI's reading thread).

    A fresh connection per read costs the schema read and a cold page cache on SQLite (about
    20 ms of a 40 ms candidate search). Outside a transaction both SQLite (autocommit) and
    PostgreSQL (peewee's autocommit mode) hold nothing between statements, so a connection
    left open sees every later commit. A database swapped under it (tests bind a new one per
    test) gets a new connection, the old one closed; a connection that fails is closed and
    the read tried once more on a new one. Use it from one thread only.
    """

    def __init__(self) -> None:
        self._db: Database | None = None  # the database object the open connection belongs to

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        self._attach()
        try:
            return fn(*args)
        except (InterfaceError, OperationalError):
            if _db.database.in_transaction():
                raise
            self.close()  # a dropped connection: once more on a new one
            self._attach()
            return fn(*args)

    def _attach(self) -> None:
        current = _db.database.obj
        if self._db is not None and self._db is not current:
            self.close()
        self._db = current
        _db.database.connect(reuse_if_open=True)

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            with suppress(Exception):  # closing a broken connection may fail: drop it anyway
                self._db.close()
        self._db = None


def database_ok() -> bool:
    """Whether the open database answers a trivial query on this thread (the served desk's
    /health); never raises."""
    try:
        with _db.database.connection_context():
            _db.database.execute_sql("SELECT 1").fetchone()
        return True
    except Exception:  # any failure is "not reachable" for a health check
        return False


def schema_version() -> int | None:
    from waitlist_tui.domain.store.schema import read_version

    with _db.database.connection_context():
        return read_version(_db.database.obj)
