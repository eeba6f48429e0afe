"""The database as the screens and the CLI may hold it: open it, close it, and run reads on a
connection of their own or on one held open between reads. They import this and never the
store (an import-linter wall), so that a query, a model or a peewee error never leaks above
the domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from peewee import Database, InterfaceError, OperationalError

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store import db as _db
from waitlist_tui.domain.store.changes_feed import Changes, ChangeWatcher, own_writes
from waitlist_tui.domain.store.connect import connect as _connect

__all__ = ["ChangeWatcher", "Changes", "own_writes", "watch_changes"]

T = TypeVar("T")


def open_database(url: str) -> None:
    """Open the database at `url` for this process, its schema brought up to date.

    A file that cannot be opened (a directory, no permission, a server that refuses) is a
    ValidationError on the `db` field, so callers above the domain catch no peewee error."""
    if _db.database.obj is not None and not _db.database.obj.is_closed():
        with suppress(Exception):  # one database at a time: the one before is let go
            _db.database.obj.close()
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


def watch_changes(on_change: Callable[[Changes], None]) -> ChangeWatcher:
    """Start hearing what other desks change in the open database: `on_change(changes)` is
    called on a thread of the watcher's own (PostgreSQL LISTEN/NOTIFY, SQLite's
    data_version); `stop()` it on the way out. Writes made inside `own_writes()` are this
    desk's and are not reported back."""
    watcher = ChangeWatcher(_db.database.obj, on_change)
    watcher.start()
    return watcher


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


# --- backups, restores and private files (imported when called) ------------------------------


def backup(
    url: str,
    to: str | None = None,
    *,
    fmt: str | None = None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
) -> dict[str, Any]:
    """`waitlist-tui backup`: a consistent copy of the database at `url` (store.backups says
    how). Without `to` or the keep counts, the clinic's `[backup]` settings answer (when the
    database opens), then the defaults."""
    from waitlist_tui.domain.store import backups
    from waitlist_tui.domain.store.db import is_postgres_url, sqlite_path_from

    if not is_postgres_url(url):
        path = Path(sqlite_path_from(url)).expanduser()
        if url == ":memory:" or not path.is_file():
            raise ValidationError(f"no database at {path}", field="db")
    wanted = dict(backups.BACKUP_DEFAULTS)
    if to is None or (keep_daily is None and keep_weekly is None):
        open_database(url)  # the clinic's settings, and its schema brought up to date
        try:
            wanted = backups.clinic_settings()
        finally:
            close_database()
    folder = to or wanted.get("dir") or str(backups.default_folder(url))
    if keep_daily is None and keep_weekly is None and to is None:
        keep_daily, keep_weekly = wanted.get("keep_daily"), wanted.get("keep_weekly")
    return backups.backup(url, folder, fmt=fmt, keep_daily=keep_daily, keep_weekly=keep_weekly)


def restore(file: str, url: str, actor: str) -> dict[str, Any]:
    """`waitlist-tui restore`: check the backup on a copy, then put it in place of the
    database at `url` when nothing else has it open (store.backups says how)."""
    from waitlist_tui.domain.store import backups

    return backups.restore(file, url, actor)


def backup_if_due(url: str) -> dict[str, Any] | None:
    """The app's timer: a backup when the clinic's `[backup] every_hours` say one is due."""
    from waitlist_tui.domain import clock
    from waitlist_tui.domain.store import backups

    return backups.backup_if_due(url, clock.now())


def private_paths(url: str) -> list[Path]:
    """The files and folders of the database at `url` that hold client data (a SQLite
    file's folder, the file, its journal/WAL/SHM; nothing for a server), and the default
    backup folder with its backups."""
    from waitlist_tui.domain.private_files import sqlite_family
    from waitlist_tui.domain.store import backups
    from waitlist_tui.domain.store.db import is_postgres_url, sqlite_path_from

    paths: list[Path] = []
    if not is_postgres_url(url) and url != ":memory:":
        paths += sqlite_family(sqlite_path_from(url))
    folder = backups.default_folder(url)
    if folder.is_dir():
        paths.append(folder)
        paths += sorted(p for p in folder.iterdir() if p.is_file())
    return paths


def exposed_files(url: str, extra: list[str] | None = None) -> list[dict[str, str]]:
    """The private paths of `url` (and `extra` ones) that group or others can read."""
    from waitlist_tui.domain.private_files import exposed

    return exposed([*private_paths(url), *map(Path, extra or [])])


def fix_permissions(url: str, extra: list[str] | None = None) -> list[dict[str, str]]:
    """`maintenance fix-permissions`: files 0600, folders 0700; what was changed."""
    from waitlist_tui.domain.private_files import narrow

    paths: list[Path] = [*private_paths(url)]
    for raw in extra or []:
        path = Path(raw).expanduser()
        paths.append(path)
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.is_file())
    return narrow(paths)


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
