"""Status moves as conditional updates: the database, not Python, decides who moved first.

`move` changes a row only if it still has the expected status, bumps its version and says
whether it happened (row count 1). Two desks racing on the same row: one gets True, the
other False, whatever the backend's isolation level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from waitlist_tui.domain.store.models import BaseModel


def move(
    model: type[BaseModel],
    row_id: Any,
    expected: str | tuple[str, ...],
    to: str,
    actor: str,
    now: dt.datetime,
    **changes: Any,
) -> bool:
    statuses = (expected,) if isinstance(expected, str) else expected
    fields = model._meta.fields
    values: dict[str, Any] = {"status": to, "updated_by": actor, **changes}
    if "updated_at" in fields:
        values["updated_at"] = now
    if "status_changed_at" in fields:
        values["status_changed_at"] = now
    values["version"] = fields["version"] + 1
    status = fields["status"]
    condition = status == statuses[0] if len(statuses) == 1 else status.in_(list(statuses))
    moved: int = model.update(**values).where(fields["id"] == row_id, condition).execute()
    return moved == 1
