"""Audit rows: who did what, when, with old and new values, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.store.models import AuditEvent


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
    what has none (the stats rollups)."""
    AuditEvent.create(
        at=clock.now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=changes or {},
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
    for i in range(0, len(rows), 500):
        AuditEvent.insert_many(rows[i : i + 500]).execute()
