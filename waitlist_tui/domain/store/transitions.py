"""Status moves as conditional updates: the database, not Python, decides who moved first.

`move` changes a row only if it still has the expected status, bumps its version and says
whether it happened (row count 1). Two desks racing on the same row: one gets True, the
other False, whatever the backend's isolation level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from waitlist_tui.domain.store.base import AuditedModel
from waitlist_tui.domain.store.ids import IdRef


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
    values["version"] = table.version + 1
    condition = (
        table.status == statuses[0] if len(statuses) == 1 else table.status.in_(list(statuses))
    )
    return bool(table.update(**values).where(table.id == row_id, condition).execute() == 1)
