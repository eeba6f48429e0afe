"""Every table of one database copied into another, across backends (a desk's SQLite file
into a shared PostgreSQL, and back): what a restore into PostgreSQL and a logical backup of
one do.

The source is read with a raw cursor (a server-side one on PostgreSQL: a million rows are
never all in memory); each value is turned into what the target stores (UUIDs as 32 hex
digits, booleans as the target's, JSON as its text; times pass as the drivers give them)
and inserted in batches through db.bulk_insert on the bound database. The stats rollups are
not copied: the target rebuilds them from the rows (maintenance.finish_bulk_load), so a
copy between backends never carries one backend's appended rows into the other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from peewee import BooleanField, Field, ForeignKeyField, JSONField, Model, UUIDField

from waitlist_tui.domain.store import maintenance
from waitlist_tui.domain.store.db import bulk_insert, copy_into, database, is_postgres
from waitlist_tui.domain.store.models import ALL_MODELS, SchemaInfo, StatsCount, StatsPoint

ROLLUPS = (StatsCount, StatsPoint)
# The schema's facts first (both sides are at this app's version: the restore sees to it).
COPIED: list[type[Model]] = [
    SchemaInfo,
    *(m for m in maintenance.DATA_MODELS if m not in ROLLUPS),
]
COUNTED: list[type[Model]] = [m for m in ALL_MODELS if m not in ROLLUPS]
BATCH = 5000

# (table, columns) -> the rows, in batches
Reader = Callable[[str, Sequence[str]], Iterator[Sequence[Sequence[Any]]]]


def columns(model: type[Model]) -> list[str]:
    return [f.column_name for f in model._meta.sorted_fields]


def _uuid_hex(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value.hex
    text = str(value)
    return text.replace("-", "") if len(text) == 36 else text


def _target_of(field: Field[Any]) -> Field[Any]:
    return field.rel_field if isinstance(field, ForeignKeyField) else field


def _converter(field: Field[Any], to_postgres: bool) -> Callable[[Any], Any] | None:
    """What turns a value read from either backend into the target's form (None: as read)."""
    target = _target_of(field)
    if isinstance(target, UUIDField):
        return _uuid_hex
    if isinstance(target, BooleanField):
        if to_postgres:
            return lambda v: None if v is None else bool(v)
        return lambda v: None if v is None else int(bool(v))
    if isinstance(target, JSONField):
        return lambda v: v if v is None or isinstance(v, str) else json.dumps(v)
    return None


def copy_rows(read: Reader) -> dict[str, int]:
    """Insert every copied table's rows from `read` into the bound database, whose tables are
    empty and hold no triggers (maintenance.wipe(indexes=False)); rows per table. Caller owns
    the transaction, then creates the indexes and finishes the bulk load."""
    to_postgres = is_postgres()
    copied: dict[str, int] = {}
    database.execute_sql("DELETE FROM schema_info")  # the only table wipe() leaves
    for model in COPIED:
        table = model._meta.table_name
        cols = columns(model)
        convert = [
            (i, c)
            for i, f in enumerate(model._meta.sorted_fields)
            if (c := _converter(f, to_postgres)) is not None
        ]

        rows = _converted(read(table, cols), convert)
        copied[table] = (
            copy_into(table, cols, rows) if to_postgres else bulk_insert(table, cols, rows)
        )
    if to_postgres:  # audit ids came with the rows: its sequence goes on after the highest
        database.execute_sql(
            "SELECT setval(pg_get_serial_sequence('audit_event', 'id'), "
            "COALESCE((SELECT MAX(id) FROM audit_event), 0) + 1, false)"
        )
    return copied


def _converted(
    batches: Iterator[Sequence[Sequence[Any]]], convert: list[tuple[int, Callable[[Any], Any]]]
) -> Iterator[Sequence[Any]]:
    for batch in batches:
        if not convert:
            yield from batch
            continue
        for row in batch:
            values = list(row)
            for i, fix in convert:
                values[i] = fix(values[i])
            yield values


def cursor_reader(connection: Any, server_side: bool) -> Reader:
    """Read tables through a DB-API connection (sqlite3, or psycopg2 with a named cursor)."""

    def read(table: str, cols: Sequence[str]) -> Iterator[Sequence[Sequence[Any]]]:
        names = ", ".join(f'"{c}"' for c in cols)
        if server_side:  # needs a transaction: the caller's REPEATABLE READ one
            cursor = connection.cursor(name=f"copy_{table}")
            cursor.itersize = BATCH
        else:
            cursor = connection.cursor()
        try:
            cursor.execute(f'SELECT {names} FROM "{table}"')
            while batch := cursor.fetchmany(BATCH):
                yield batch
        finally:
            cursor.close()

    return read


def row_counts(
    execute: Callable[[str], Any], tables: Sequence[str] | None = None
) -> dict[str, int]:
    """COUNT(*) of each table (the counted ones by default) through `execute(sql)`, which
    returns a cursor."""
    names = tables or [m._meta.table_name for m in COUNTED]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = int(execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
    return counts
