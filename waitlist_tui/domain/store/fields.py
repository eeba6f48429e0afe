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
                offset = value.utcoffset()
                if offset is None or offset:  # already UTC: no conversion (pendulum's is slow)
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
        if type(value) is str and len(value) == 26 and value[10] == " ":
            # SQLite's text in the one width db.stored_time writes: read at C speed (every
            # row read has several; peewee's general path checks each format in Python)
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        value = super().python_value(value)  # type: ignore[no-untyped-call]  # as db_value
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC)
        return value
