"""One long-lived reading thread for the screens' frequent reads (match finder, dashboard).

A thread worker opens a fresh connection each time (`database.connection_context()`): on
SQLite that costs the schema read and a cold page cache, about 20 ms of a 40 ms candidate
search. The app's Reader runs such reads, one at a time, on a single thread that keeps its
connection open between them; the worker that asks waits for the result, so cancelling and
dropping stale results work as before. A read asked for while another is running takes a
connection of its own rather than wait. Writes stay in their own workers and transactions.

Outside a transaction both SQLite (autocommit) and PostgreSQL (peewee's autocommit mode) hold
nothing between statements, so a reader connection left open sees every later commit. A
database swapped under it (tests bind a new one per test) gets a new connection, the old one
closed; a connection that fails is closed and the read tried once more on a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

from peewee import Database, InterfaceError, OperationalError

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.waitlist import reading
from waitlist_tui.domain.waitlist.views import EntryView

T = TypeVar("T")


class Reader:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="waitlist-reader")
        self._db: Database | None = None  # the database object the open connection belongs to
        self._used = False
        self._busy = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the reading thread and return (or raise) what it does. If that
        thread is busy (an older read still running), this one does not queue behind it: it
        runs here, on a connection of its own, as a worker would."""
        if not self._busy.acquire(blocking=False):
            with database.connection_context():
                return fn(*args)
        try:
            self._used = True
            return self._pool.submit(self._run, fn, args).result()
        finally:
            self._busy.release()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._attach()
        try:
            return fn(*args)
        except (InterfaceError, OperationalError):
            if database.in_transaction():
                raise
            self._detach()  # a dropped connection: once more on a new one
            self._attach()
            return fn(*args)

    def _attach(self) -> None:
        current = database.obj
        if self._db is not None and self._db is not current:
            self._detach()
        self._db = current
        database.connect(reuse_if_open=True)

    def _detach(self) -> None:
        if self._db is not None and not self._db.is_closed():
            with suppress(Exception):  # closing a broken connection may fail: drop it anyway
                self._db.close()
        self._db = None

    def close(self) -> None:
        """Close the connection (on the reading thread, which owns it) and stop the thread."""
        if not self._used:
            self._pool.shutdown(wait=False)
            return
        try:
            self._pool.submit(self._detach).result(timeout=5)
        finally:
            self._pool.shutdown(wait=False)


def read(app: Any, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on the app's reader, or on a connection of its own if the app has none."""
    reader = getattr(app, "reader", None)
    if isinstance(reader, Reader):
        return reader.call(fn, *args)
    with database.connection_context():
        return fn(*args)


def fresh_entry(app: Any, entry_id: Any) -> EntryView | None:
    """The entry as it is now, before a screen opens it: the row on screen may be seconds
    old and another desk may have moved or removed it (then the desk is told, and None)."""
    try:
        return read(app, reading.get, entry_id)
    except DomainError as err:
        app.notify(err.message, severity="error", markup=False)
        return None
