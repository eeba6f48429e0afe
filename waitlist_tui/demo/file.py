"""Building the demo into a fresh SQLite file beside the target, then swapping it into place.

A fresh file needs no journal (a failed build is simply deleted) and is written once, where a
build inside the target's WAL transaction writes every page twice (to the WAL, then to the
file at the checkpoint): at a million entries that is 2.5 GB more to write. The target is
replaced by a rename only while no other connection has it open, so no desk is left reading
a file that is no longer there; a desk that has it open keeps the in-place build (demo.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from peewee import Database, OperationalError, SqliteDatabase

from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.store import scratch_files
from waitlist_tui.domain.store.db import bind
from waitlist_tui.domain.store.schema import ensure_schema

BUILDING = ".building"  # the suffix of the file a build fills beside its target
# Nothing else reads the file while it is built, and a crash only leaves a file to delete.
FAST_PRAGMAS = {
    "page_size": 8192,  # before the first table: half the pages to write and to index
    "journal_mode": "off",
    "synchronous": "off",
    "locking_mode": "exclusive",
    "temp_store": "memory",
    "cache_size": -200_000,  # KiB: index sorts ran no faster with 1 GB
    "foreign_keys": 0,  # generated rows are consistent by construction
}
# Written over the old file's header once it is renamed away: a desk that opened it in the
# instant of the swap gets "not a database" instead of reading (or adding a WAL beside) it.
_RETIRED = b"waitlist-tui: replaced by a rebuilt demo\0"


class DemoInUse(Conflict):
    """Another connection opened the database while the demo was built beside it."""


def swappable(db: Database) -> bool:
    """True when `db` is a SQLite file that no other connection has open (switching it out
    of WAL needs every other connection gone; the switch is undone at once). Never on
    Windows, which cannot rename over a file that is open."""
    if not isinstance(db, SqliteDatabase) or db.database == ":memory:" or db.in_transaction():
        return False
    return os.name != "nt" and _leave_wal(db)


def _leave_wal(db: SqliteDatabase) -> bool:
    """Switch `db` to a rollback journal if no other connection has it open, and back (SQLite
    refuses the switch at once, whatever the busy timeout, while another connection has it)."""
    try:
        mode = db.execute_sql("PRAGMA journal_mode=delete").fetchone()[0]
    except OperationalError:  # "database is locked": another connection has it open
        return False
    db.execute_sql("PRAGMA journal_mode=wal")
    return str(mode).lower() == "delete"


@contextmanager
def built_beside(target: SqliteDatabase) -> Iterator[SqliteDatabase]:
    """Bind the models to a fresh file beside `target` (current schema, empty) for the body to
    fill; then put it in the target's place and bind the target again. If the body fails, or
    a desk opened the target meanwhile (DemoInUse), the target is left as it was."""
    path = Path(os.path.realpath(target.database))  # through a symlink: replace what it names
    # 0600 while it fills (client data), pid in its name: a build killed before it finished
    # leaves it behind, and the next build removes it once this process is gone.
    name = scratch_files.create(path.parent, f".{path.name}.", BUILDING)
    fresh = SqliteDatabase(name, pragmas=FAST_PRAGMAS)
    try:
        bind(fresh)
        fresh.connect()
        ensure_schema(fresh)
        yield fresh
        fresh.execute_sql("PRAGMA journal_mode=wal")  # stored in the file: desks open it so
        fresh.close()
        os.chmod(name, stat.S_IMODE(path.stat().st_mode))  # the target's mode (0600 by default)
        _sync(name)
        _swap(target, str(path), name)
    finally:
        if not fresh.is_closed():
            fresh.close()
        with suppress(FileNotFoundError):
            os.remove(name)
        bind(target)
        target.connect(reuse_if_open=True)


def _swap(target: SqliteDatabase, path: str, built: str) -> None:
    """Rename `built` over the target's file `path` while holding the target exclusively (no
    other connection open, none able to read): the file is either the old database or the new
    one."""
    try:
        target.execute_sql("PRAGMA journal_mode=delete")  # alone only; the WAL is folded in
        target.execute_sql("BEGIN EXCLUSIVE")  # nobody may even read until the rename is done
    except OperationalError:
        with suppress(OperationalError):
            target.execute_sql("PRAGMA journal_mode=wal")
        raise DemoInUse(
            f"another connection opened {path} while the demo was built; run it again"
        ) from None
    old: int | None = None
    try:
        old = os.open(path, os.O_WRONLY)
        os.replace(built, path)
        _sync_dir(os.path.dirname(path))
        os.pwrite(old, _RETIRED, 0)
    finally:
        target.execute_sql("ROLLBACK")
        target.close()
        if old is not None:
            os.close(old)  # last: closing any descriptor of the file drops this process's locks


def _sync(name: str) -> None:
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(directory: str) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
