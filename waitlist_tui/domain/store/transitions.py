"""Status moves as conditional updates: the database, not Python, decides who moved first.

`move` changes a row only if it still has the expected status, bumps its version and says
whether it happened (row count 1). Two desks racing on the same row: one gets True, the
other False, whatever the backend's isolation level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import Node

from waitlist_tui.domain.store.base import AuditedModel
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.prepared import PreparedFamily, param


def move(
    model: type[AuditedModel],
    row_id: IdRef,
    expected: str | tuple[str, ...],
    to: str,
    actor: str,
    now: dt.datetime,
    **changes: Any,
) -> bool:
    statuses = (expected,) if isinstance(expected, str) else expected
    fields = model._meta.fields
    values: dict[str, Any] = {"status": to, **model.stamps(actor, now), **changes}
    if "status_changed_at" in fields:
        values["status_changed_at"] = now
    table: Any = model  # the status and version columns are the moved tables' own
    if any(isinstance(v, Node) for v in values.values()):
        values["version"] = table.version + 1
        condition = (
            table.status == statuses[0] if len(statuses) == 1 else table.status.in_(list(statuses))
        )
        return bool(table.update(**values).where(table.id == row_id, condition).execute() == 1)
    query = _MOVES((model, tuple(values), len(statuses)))
    moved = query.cursor(**values, _row=row_id, _from=statuses[0], _froms=statuses)
    return bool(moved.rowcount == 1)


def _move_query(model: Any, names: tuple[str, ...], statuses: int) -> Any:
    """A move's update with placeholders for its values: built once per table and columns
    (every offer, reply and ending moves an entry, an offer or an opening)."""
    fields = model._meta.fields
    values: dict[str, Any] = {name: param(name, fields[name]) for name in names}
    values["version"] = model.version + 1
    condition = (
        model.status == param("_from", model.status)
        if statuses == 1
        else model.status.in_(param("_froms", model.status, size=statuses))
    )
    return model.update(**values).where(model.id == param("_row", model.id), condition)


_MOVES = PreparedFamily(lambda shape: _move_query(*shape))
