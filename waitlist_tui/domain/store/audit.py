"""Audit rows: who did what, when, with old and new values, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.store import changes_feed
from waitlist_tui.domain.store.db import database, insert_dicts, is_postgres
from waitlist_tui.domain.store.models import AuditEvent
from waitlist_tui.domain.store.prepared import Prepared, param


def plain(value: Any) -> Any:
    """JSON-ready form of a stored value for the audit trail."""
    if value is None or type(value) in (str, int, bool):  # most values, first
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        k: [plain(old.get(k)), plain(v)] for k, v in new.items() if plain(old.get(k)) != plain(v)
    }


def record(
    actor: str,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
) -> None:
    """One audit row in the caller's transaction; `object_id` is the row's id, or a name for
    what has none (the stats rollups). Other desks hear of it (store/changes_feed.py)."""
    row = {
        "at": clock.now(),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "changes": changes or {},
    }
    if is_postgres():
        insert_announced(AuditEvent.insert(**row), object_type, [str(object_id)])
        return
    audit_id = _INSERT.cursor(**row).lastrowid
    announce(object_type, [str(object_id)], [audit_id])


# SQLite's audit insert, built once: every write of the desk (and of a simulated month) adds
# one, and building its SQL cost more than running it.
_INSERT = Prepared(
    lambda: AuditEvent.insert(
        **{
            name: param(name, AuditEvent._meta.fields[name])
            for name in ("at", "actor", "action", "object_type", "object_id", "changes")
        }
    )
)


def record_many(
    actor: str, action: str, object_type: str, items: list[tuple[uuid.UUID | str, dict[str, Any]]]
) -> None:
    """One audit row per (object id, changes), written in batches: a calendar's first sync
    adds thousands of rows, and a statement per audit row was most of its time."""
    now = clock.now()
    rows = [
        {
            "at": now,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "changes": changes,
        }
        for object_id, changes in items
    ]
    if not rows:
        return
    object_ids = [str(object_id) for object_id, _ in items]
    insert_dicts(AuditEvent, rows)  # one executemany: a statement per row was the cost
    if is_postgres():
        notify, params = changes_feed.notify_sql(object_type, object_ids)
        database.execute_sql(notify, params)  # sent at commit, dropped on rollback
        return
    # SQLite: this transaction's writer holds the lock, so the rows took the ids after the
    # largest before them, in order.
    table = AuditEvent._meta.table_name
    (last,) = database.execute_sql(f'SELECT max(id) FROM "{table}"').fetchone()
    announce(object_type, object_ids, list(range(last - len(rows) + 1, last + 1)))


def insert_announced(insert: Any, object_type: str, object_ids: list[str]) -> None:
    """PostgreSQL: the audit insert and the live desks' notification in one statement (no
    round trip more per write): `pg_notify` in the writer's transaction is sent at commit
    and dropped on rollback (store/changes_feed.py)."""
    sql, params = insert.sql()
    notify, more = changes_feed.notify_sql(object_type, object_ids)
    once = "FROM (SELECT 1 FROM audit LIMIT 1) AS one"  # the insert runs whole regardless
    database.execute_sql(f"WITH audit AS ({sql}) {notify} {once}", [*params, *more])


def announce(object_type: str, object_ids: list[str], audit_ids: list[int]) -> None:
    """SQLite: the audit rows tell the live desks; this desk remembers which of them are its
    own (changes_feed), so that its feed does not report them back."""
    if changes_feed.is_own() and len(audit_ids) == len(object_ids):
        changes_feed.remember_own(
            (audit_id, object_type, object_id)
            for audit_id, object_id in zip(audit_ids, object_ids, strict=True)
        )


def announce_written(object_type: str, object_ids: list[str]) -> None:
    """PostgreSQL: rows whose audit rows went in by COPY (a bulk import) told to the live
    desks, in the writer's transaction. SQLite's feed reads the audit rows themselves."""
    if object_ids and is_postgres():
        notify, params = changes_feed.notify_sql(object_type, object_ids)
        database.execute_sql(notify, params)
