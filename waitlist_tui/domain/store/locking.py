"""Locks: the one spelling of "lock this row before deciding", and the advisory locks.

Row locks. A service that decides from a row and then writes (accept an offer, take a class
seat) reads the row with `locked(query)` inside its `database.atomic()`:

- PostgreSQL: `SELECT ... FOR UPDATE` holds the row until the transaction ends; a second desk
  waits, then reads what the first committed.
- SQLite: write transactions are `BEGIN IMMEDIATE` (db.py), so the transaction already holds
  the database's write lock before it reads anything; the query runs as it is.

`locked(query, skip_locked=True)` is the claim form (`FOR UPDATE SKIP LOCKED`): two delivery
loops take disjoint rows instead of waiting on each other, and two desks offering at once each
get the next free candidates (matching.candidates(claim=True)). `of` names the table whose rows
are locked when the query joins others (`FOR UPDATE OF entry`), so a joined lookup row (the
entry's service) is neither locked nor skipped.

Advisory locks (PostgreSQL only; SQLite's write lock already serialises these jobs) are named
here, so that no two jobs pick the same key by accident.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, TypeVar

from peewee import Database, DatabaseError, PostgresqlDatabase

from waitlist_tui.domain.store.db import database

Q = TypeVar("Q")

# Advisory lock keys (one bigint key, or a classid with a text's hash).
SCHEMA_LOCK = 727_274  # two desks opening a fresh PostgreSQL do not both create the schema
COMPACT_LOCK = 727_275  # one stats compaction at a time
CLAIM_LOCKS = 727_275  # classid of a delivery run's session lock on its claim token
JOIN_PHONE_LOCKS = 727_276  # base of the /join page's per-phone lock (self_join.submit)
# base of a rate limit's per-key lock (access/limits.py), past the per-phone ones' million
RATE_LOCKS = 3_000_000


def _postgres(db: Database | None = None) -> bool:
    """The database (the proxy's, by default) is PostgreSQL."""
    target = database.obj if db is None else getattr(db, "obj", db)
    return isinstance(target, PostgresqlDatabase)


def locked(query: Q, *, skip_locked: bool = False, of: Any = None, no_key: bool = False) -> Q:
    """`query` as a locking read in the caller's transaction (see the module docstring).
    `no_key`: `FOR NO KEY UPDATE`, for a row held only to take turns (a provider while one of
    their bookings is made): rows referring to it (a new opening of the provider) can still
    be written meanwhile, their foreign key's `KEY SHARE` lock does not wait for it."""
    if not _postgres():
        return query
    return query.for_update(  # type: ignore[attr-defined, no-any-return]
        "FOR NO KEY UPDATE" if no_key else True, of=of, skip_locked=skip_locked or None
    )


def transaction_lock(key: int, *, wait: bool = True, db: Database | None = None) -> bool:
    """PostgreSQL: take the advisory lock `key` until the transaction ends (False: another
    session holds it and `wait` is off). SQLite: True, its write lock already serialises."""
    target: Any = db if db is not None else database  # a Database or the proxy
    if not _postgres(target):
        return True
    if wait:
        target.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
        return True
    row: Any = target.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()
    return bool(row[0])


def hold_session_lock(classid: int, name: str) -> bool:
    """PostgreSQL: a lock that lives as long as this session, on (classid, hash of name),
    without waiting (False: another live session holds one of the same hash). Other sessions
    see whether its holder is alive in pg_locks."""
    row: Any = database.execute_sql(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (classid, name)
    ).fetchone()
    return bool(row[0])


def release_session_lock(classid: int, name: str) -> None:
    """PostgreSQL: let go of a session lock (its session may already be gone)."""
    with suppress(DatabaseError):
        database.execute_sql("SELECT pg_advisory_unlock(%s, hashtext(%s))", (classid, name))
