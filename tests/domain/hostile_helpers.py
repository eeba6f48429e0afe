"""What the hostile-input tests share: a snapshot of every table's row count (so "nothing
written" is checked on every table, the audit trail included), and the check that a refusal
is a 4000 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.models import ALL_MODELS


def row_counts() -> dict[str, int]:
    return {m._meta.table_name: m.select().count() for m in ALL_MODELS}


def refused(call: Callable[[], Any], field: str) -> ValidationError:
    """`call` raises a 4000 whose field and message name `field`, and writes nothing."""
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        call()
    err = info.value
    assert err.code == 4000
    assert err.field == field, (err.field, err.message)
    if field != "file":  # a file-level refusal names the file's path instead
        assert field.split(".")[-1].split("[")[0] in err.message, err.message
    assert row_counts() == before
    return err
