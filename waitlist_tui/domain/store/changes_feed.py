"""What other desks changed, as it happens: the feed behind live desks.

Every write has an audit row (store/audit.py), so the audit trail says what changed. How a
desk hears of it depends on the backend:

- PostgreSQL: `record`/`record_many` send `pg_notify('waitlist_changes', payload)` in the
  writer's transaction (delivered at commit, dropped on rollback); the feed holds a
  connection of its own that LISTENs and waits on its socket (no query while nothing
  happens). The payload is small JSON: {"o": origin, "k": object type, "i": [ids] or null}.
- SQLite: the feed holds a connection of its own and asks it `PRAGMA data_version` every
  POLL_S (a counter in the connection, no page read) and, when another connection committed,
  reads the audit rows after the last one it saw.

A desk's own writes (the TUI's write workers run inside `own_writes()`) are not reported back
to it: the screen that made the change already shows it. On PostgreSQL the payload's origin
says so; on SQLite the audit ids the process wrote while a feed is open are remembered (with
what they touched, so an id reused after a rolled-back write is not mistaken for ours).
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from peewee import Database, PostgresqlDatabase, SqliteDatabase

CHANNEL = "waitlist_changes"
POLL_S = 0.25  # SQLite: how often the feed asks data_version; PostgreSQL: its longest wait
MAX_IDS = 50  # ids named per notification / per read; more: `many` (kinds only)
ORIGIN = uuid.uuid4().hex[:12]  # this process, in its notifications
log = logging.getLogger("waitlist_tui.changes")


@dataclass(frozen=True)
class Changes:
    """What other desks changed since the last report: the kinds of rows (audit object
    types: entry, offer, opening, client, appointment, message, ...) and their ids, unless
    too many were touched to name (`many`)."""

    kinds: frozenset[str]
    ids: frozenset[str] = frozenset()
    many: bool = False

    def touches(self, *kinds: str) -> bool:
        """Whether any of `kinds` changed (no kinds at all: anything may have)."""
        return not self.kinds or not self.kinds.isdisjoint(kinds)

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.kinds | other.kinds, self.ids | other.ids, self.many or other.many)


def combined(parts: Iterable[Changes]) -> Changes | None:
    out: Changes | None = None
    for part in parts:
        out = part if out is None else out | part
    return out


# --- the writer's side ------------------------------------------------------------------------

_local = threading.local()
_own_lock = threading.Lock()
_own: dict[int, tuple[str, str]] = {}  # SQLite: audit id -> (object type, object id) we wrote
_feeds_open = 0  # SQLite feeds open in this process; none: nothing is remembered


@contextmanager
def own_writes() -> Iterator[None]:
    """The block's writes are this desk's own: its feed does not report them back."""
    before = getattr(_local, "own", False)
    _local.own = True
    try:
        yield
    finally:
        _local.own = before


def is_own() -> bool:
    return bool(getattr(_local, "own", False))


def remember_own(ids: Iterable[tuple[int, str, str]]) -> None:
    """SQLite: audit rows this process wrote in `own_writes()` (id, object type, object id)."""
    if not _feeds_open:
        return
    with _own_lock:
        for audit_id, kind, object_id in ids:
            _own[audit_id] = (kind, object_id)


def _own_among(rows: list[tuple[int, str, str]], upto: int) -> set[int]:
    """Which of `rows` (audit id, kind, object id) this process wrote; what it remembered up
    to audit id `upto` is forgotten (read now, or rolled back and never to come)."""
    with _own_lock:
        mine = {audit_id for audit_id, kind, oid in rows if _own.get(audit_id) == (kind, oid)}
        for audit_id in [i for i in _own if i <= upto]:
            del _own[audit_id]
        return mine


def notify_sql(kind: str, object_ids: list[str]) -> tuple[str, tuple[str, str]]:
    """PostgreSQL: the statement that tells the listeners, sent in the writer's transaction."""
    ids = object_ids if len(object_ids) <= MAX_IDS else None
    payload = json.dumps({"o": ORIGIN if is_own() else "", "k": kind, "i": ids})
    return "SELECT pg_notify(%s, %s)", (CHANNEL, payload)


# --- the reader's side ------------------------------------------------------------------------


class ChangeFeed:
    """The changes other desks commit, read on a connection of the feed's own. Open, wait
    and close it from one thread (the watcher's)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._conn: Any = None
        self._version: int | None = None
        self._last_id = 0
        self._counted = False

    @property
    def postgres(self) -> bool:
        return isinstance(self._database, PostgresqlDatabase)

    def open(self) -> None:
        global _feeds_open
        conn = self._database._connect()  # type: ignore[attr-defined]  # a raw driver connection
        self._conn = conn
        if self.postgres:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            return
        self._version = self._data_version()
        row = conn.execute("SELECT max(id) FROM audit_event").fetchone()
        self._last_id = row[0] or 0
        with _own_lock:
            _feeds_open += 1
        self._counted = True

    def wait(self, timeout: float = POLL_S, wake_fd: int | None = None) -> Changes | None:
        """What other desks changed, waiting up to `timeout` for something (or until
        `wake_fd` is readable); None: nothing."""
        if self.postgres:
            return self._wait_notified(timeout, wake_fd)
        if wake_fd is None:
            threading.Event().wait(timeout)
        else:
            ready, _, _ = select.select([wake_fd], [], [], timeout)
            if ready:
                return None
        return self.check()

    def check(self) -> Changes | None:
        """What changed since the last check, not waiting (SQLite: a counter read when
        nothing did)."""
        if self.postgres:
            return self._wait_notified(0, None)
        version = self._data_version()
        if version == self._version:
            return None
        self._version = version
        return self._audit_since()

    def _data_version(self) -> int:
        version: int = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    def _audit_since(self) -> Changes | None:
        rows = self._conn.execute(
            "SELECT id, object_type, object_id FROM audit_event WHERE id > ? ORDER BY id LIMIT ?",
            (self._last_id, MAX_IDS + 1),
        ).fetchall()
        if not rows:
            return None
        if len(rows) > MAX_IDS:  # a bulk write: the kinds, not every id
            kinds = self._conn.execute(
                "SELECT DISTINCT object_type FROM audit_event WHERE id > ?", (self._last_id,)
            ).fetchall()
            self._last_id = self._conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
            _own_among([], self._last_id)
            return Changes(frozenset(k for (k,) in kinds), many=True)
        self._last_id = rows[-1][0]
        mine = _own_among(rows, self._last_id)
        theirs = [(kind, oid) for audit_id, kind, oid in rows if audit_id not in mine]
        if not theirs:
            return None
        return Changes(frozenset(k for k, _ in theirs), frozenset(i for _, i in theirs))

    def _wait_notified(self, timeout: float, wake_fd: int | None) -> Changes | None:
        conn = self._conn
        if not conn.notifies:
            waiting_on: list[Any] = [conn] if wake_fd is None else [conn, wake_fd]
            ready, _, _ = select.select(waiting_on, [], [], timeout)
            if not ready or wake_fd in ready:
                return None
        conn.poll()
        notes = list(conn.notifies)
        conn.notifies.clear()
        return combined(c for c in (parse(n.payload) for n in notes) if c is not None)

    def close(self) -> None:
        global _feeds_open
        if self._counted:
            self._counted = False
            with _own_lock:
                _feeds_open -= 1
                if not _feeds_open:
                    _own.clear()
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
            self._conn = None


def parse(payload: str) -> Changes | None:
    """A notification's payload, None when it is this process's own (or not ours at all)."""
    try:
        note = json.loads(payload)
        if note.get("o") == ORIGIN:
            return None
        ids = note.get("i")
        if ids is None:
            return Changes(frozenset([str(note["k"])]), many=True)
        return Changes(frozenset([str(note["k"])]), frozenset(str(i) for i in ids))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("a change notification not understood: %r", payload[:200])
        return None


class ChangeWatcher:
    """A thread that waits on a ChangeFeed and hands each batch of other desks' changes to
    `on_change` (called on the watcher's thread). Never blocks its caller; `stop` wakes it and
    closes its connection. A lost connection is opened again; what may have been missed
    meanwhile is reported as a change of every kind (`Changes(many=True)`)."""

    RETRY_S = 1.0

    def __init__(
        self, database: Database, on_change: Callable[[Changes], None], every: float = POLL_S
    ) -> None:
        self._database = database
        self._on_change = on_change
        self._every = every
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # the feed is listening (tests, the benchmark)
        self.rounds = 0  # looks taken (tests: a round begun after a commit has seen it)

    def start(self) -> None:
        if isinstance(self._database, SqliteDatabase) and self._database.database in (
            ":memory:",
            "",
        ):
            return  # nobody else can write to a memory database
        self._thread = threading.Thread(target=self._run, name="waitlist-changes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Wake the thread, wait for it to close its connection, close the wake-up pipe."""
        self._stop.set()
        with suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # stuck in the driver: the pipe stays for it (a daemon thread)
        for fd in (self._wake_r, self._wake_w):
            with suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        missed = False
        while not self._stop.is_set():
            feed = ChangeFeed(self._database)
            try:
                feed.open()
                self.ready.set()
                if missed:
                    self._on_change(Changes(frozenset(), many=True))
                while not self._stop.is_set():
                    changes = feed.wait(self._every, self._wake_r)
                    self.rounds += 1
                    if changes is not None and not self._stop.is_set():
                        self._on_change(changes)
            except Exception:  # the database went away: look again shortly
                log.warning("change feed lost its connection; opening it again", exc_info=True)
                missed = True
                self._stop.wait(self.RETRY_S)
            finally:
                feed.close()
