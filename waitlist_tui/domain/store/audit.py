"""Audit rows: who did what, when, with old and new values, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.store import changes_feed
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import AuditEvent


def plain(value: Any) -> Any:
    """JSON-ready form of a stored value for the audit trail."""
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
    row = AuditEvent.create(
        at=clock.now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=changes or {},
    )
    announce(object_type, [str(object_id)], [row.id])


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
    last_ids: list[int] = []
    for i in range(0, len(rows), 500):
        batch = rows[i : i + 500]
        last = AuditEvent.insert_many(batch).execute()
        if not is_postgres() and isinstance(last, int):  # SQLite: the batch's last rowid
            last_ids.extend(range(last - len(batch) + 1, last + 1))
    announce(object_type, [str(object_id) for object_id, _ in items], last_ids)


def announce(object_type: str, object_ids: list[str], audit_ids: list[int]) -> None:
    """Tell the live desks: on PostgreSQL a notification in this transaction (sent at
    commit, dropped on rollback); on SQLite the audit rows say it, and this desk remembers
    which of them are its own (changes_feed)."""
    if not object_ids:
        return
    if is_postgres():
        sql, params = changes_feed.notify_sql(object_type, object_ids)
        database.execute_sql(sql, params)
    elif changes_feed.is_own() and len(audit_ids) == len(object_ids):
        changes_feed.remember_own(
            (audit_id, object_type, object_id)
            for audit_id, object_id in zip(audit_ids, object_ids, strict=True)
        )
