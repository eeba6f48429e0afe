"""Column types shared by the models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import DateTimeField


class UTCDateTimeField(DateTimeField):
    """Stores naive UTC on every backend (so SQLite text sorts and PostgreSQL compares alike)
    and hands back aware UTC datetimes (plain ones: building a page of rows stays cheap)."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC)
            return dt.datetime(
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
            )
        return super().db_value(value)  # type: ignore[no-untyped-call]  # untyped in peewee's stubs

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)  # type: ignore[no-untyped-call]  # as db_value
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC)
        return value
