"""Database proxy and connection: the database is chosen once at start-up, never at import.

A plain path (or no URL) means SQLite; `postgresql://...` means PostgreSQL. SQLite runs in WAL
with foreign keys on, a busy timeout, and IMMEDIATE write transactions, so that two desks on one
file queue for the write lock instead of failing half-way.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from peewee import (
    CharField,
    Database,
    DatabaseProxy,
    Field,
    IntegerField,
    JSONField,
    Model,
    PostgresqlDatabase,
    SchemaManager,
    SqliteDatabase,
    TextField,
)

from waitlist_tui.domain.private_files import private_dirs

database = DatabaseProxy()

MMAP_BYTES = 256 * 1024 * 1024
BUSY_TIMEOUT_S = 15.0
POSTGRES_SCHEMES = ("postgresql", "postgres")
# sqlite3 keeps this many compiled statements per connection (its default: 128). An offer
# call alone runs some 60 different ones (the ranking per shape, the fairness record's,
# the inserts per column set), so with 128 they pushed each other out and SQLite parsed and
# planned most statements again on every run.
CACHED_STATEMENTS = 1024
# Every desk query is small and wants its first rows soon. PostgreSQL's defaults are for
# analytics: a plan costed over jit_above_cost is JIT-compiled first (a capped count of the
# provider filter, 2.7 ms of index probes, took 168 ms with JIT), and a query that
# aggregates a few thousand rollup rows starts two parallel workers (stats 51 -> 40 ms at
# 100k entries without them). Both off for the app's connections, as libpq start-up options.
PG_SESSION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"


def stored_time(value: dt.datetime) -> str:
    """A naive datetime as SQLite stores it: one fixed width, so stored times sort as text."""
    return value.isoformat(" ", "microseconds")


# Python 3.12 deprecates sqlite3's implicit datetime adapters; register ours explicitly.
sqlite3.register_adapter(dt.datetime, stored_time)
sqlite3.register_adapter(dt.date, lambda d: d.isoformat())
# None and bool are no exact base types, so sqlite3 binds them only after asking its adapter
# registry and then both sides for __adapt__ / __conform__. A registered C callable that gives
# the same value answers first: 0.33 -> 0.15 us per value, ~1 s of a 1M-entry demo's inserts.
_NO_ADAPTER: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NO_ADAPTER.get)  # None -> None (NULL)
sqlite3.register_adapter(bool, int)  # True -> 1, as sqlite3 stores a bool anyway


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlparse(str(url)).scheme in POSTGRES_SCHEMES


def sqlite_path_from(url: str) -> str:
    """Accept `path`, `sqlite:///path` and `:memory:`."""
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else url


def prepare_sqlite_file(path: str) -> None:
    """Create the file 0600 inside a 0700 directory: the waitlist holds client contact details."""
    if path == ":memory:":
        return
    file = Path(path).expanduser()
    private_dirs(file.parent)  # every level it creates 0700, not only the last
    if not file.exists():
        fd = os.open(file, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def make_database(url: str) -> Database:
    """Build (but do not open) the peewee database for a URL or path."""
    if is_postgres_url(url):
        from waitlist_tui.domain.store.pg_driver import ready_psycopg2

        ready_psycopg2()
        parsed = urlparse(url)
        options: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        # The URL's own `options` come after ours, so a setting given there wins.
        options["options"] = " ".join(filter(None, (PG_SESSION_OPTIONS, options.get("options"))))
        return PostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=parsed.port or None,
            autorollback=False,
            **options,
        )
    path = sqlite_path_from(url)
    prepare_sqlite_file(path)
    return SqliteDatabase(
        str(Path(path).expanduser()) if path != ":memory:" else path,
        timeout=BUSY_TIMEOUT_S,
        lock_type="IMMEDIATE",
        cached_statements=CACHED_STATEMENTS,
        pragmas={
            # A new file only (an existing one keeps its own): 8 KiB pages made a 1M demo
            # build 3 s faster and its queue page and search 18-27% faster than 4 KiB.
            "page_size": 8192,
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": int(BUSY_TIMEOUT_S * 1000),
            "synchronous": "normal",
            "cache_size": -32000,
            # Pages read through the OS's cache, not copied into each connection's: a new
            # connection's first search ("g") 34 -> 22 ms at 100k entries.
            "mmap_size": MMAP_BYTES,
        },
    )


# Columns both drivers already hand back as the Python value the field would make.
_AS_READ = (CharField, TextField, IntegerField)


def plain_rows(query: Any, columns: Sequence[Field[Any]]) -> list[list[Any]]:
    """The rows of `query` (a select of exactly `columns`) as lists, with only the columns
    that need it converted (ids, dates, times). peewee's .tuples() calls a converter on every
    column of every row: a third of the cost of reading a page of 50 entries."""
    sql, params = query.sql()
    rows = database.execute_sql(sql, params).fetchall()
    convert: list[tuple[int, Callable[[Any], Any]]] = [
        (i, f.python_value) for i, f in enumerate(columns) if not isinstance(f, _AS_READ)
    ]
    out = []
    for row in rows:
        values = list(row)
        for i, python_value in convert:
            if values[i] is not None:
                values[i] = python_value(values[i])
        out.append(values)
    return out


def bind(db: Database) -> Database:
    """Point the models at `db`; the schema is checked separately (schema.ensure_schema)."""
    database.initialize(db)
    return db


def schema_of(model: type[Model]) -> SchemaManager:
    """peewee's schema manager of `model` (its tables and indexes): set on every model class by
    peewee's metaclass, which its stubs do not declare."""
    manager: SchemaManager = model._schema  # type: ignore[attr-defined]
    return manager


def tuple_rows(query: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a select as tuples (`.tuples()`), typed as what they are: peewee's stubs
    have `.tuples()` return the query as it was, rows of models."""
    rows: Iterator[tuple[Any, ...]] = iter(query.tuples())
    return rows


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


@contextmanager
def bulk_load_mode() -> Iterator[None]:
    """For generated, consistent-by-construction data on SQLite: skip per-row foreign-key
    lookups and give index builds a large cache. Must be entered outside a transaction."""
    if is_postgres() or database.in_transaction():
        yield
        return
    database.pragma("foreign_keys", 0)
    database.pragma("cache_size", -262144)
    try:
        yield
    finally:
        database.pragma("foreign_keys", 1)
        database.pragma("cache_size", -32000)


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Fast multi-row insert for generated data (demo, import at scale); caller owns the
    transaction. executemany on SQLite, execute_values on PostgreSQL."""
    cols = ", ".join(f'"{c}"' for c in columns)
    count = 0
    if is_postgres():
        from psycopg2.extras import execute_values

        cursor = database.cursor()
        batch: list[Sequence[Any]] = []
        sql = f'INSERT INTO "{table}" ({cols}) VALUES %s'
        for row in rows:
            batch.append(row)
            if len(batch) >= 2000:
                execute_values(cursor, sql, batch, page_size=2000)
                count += len(batch)
                batch = []
        if batch:
            execute_values(cursor, sql, batch, page_size=2000)
            count += len(batch)
        return count
    marks = ", ".join("?" for _ in columns)
    cursor = database.cursor()  # executemany steps through `rows` itself, lazily
    cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)
    inserted: int = cursor.rowcount
    return inserted


def insert_dicts(model: type[Model], rows: Sequence[dict[str, Any]]) -> int:
    """`model.insert_many(rows)` for thousands of rows in the caller's transaction: each
    value goes through its field's db_value, then `bulk_insert`. peewee builds a statement
    from every value's node, ~0.1 ms a row, most of a calendar's first sync; this is the
    same write at a tenth of the cost. The rows are dicts of field names with the same keys."""
    if not rows:
        return 0
    names = list(rows[0])
    fields = [model._meta.fields[name] for name in names]
    # A JSONField's db_value wraps the text in a SQL function (json(?) on SQLite): its text
    # goes as it is, which both databases read as JSON.
    convert = [
        (lambda value, f=field: None if value is None else f._dumps(value))
        if isinstance(field, JSONField)
        else field.db_value
        for field in fields
    ]
    pairs = list(zip(names, convert, strict=True))
    return bulk_insert(
        model._meta.table_name,
        [field.column_name for field in fields],
        ([to_db(row[name]) for name, to_db in pairs] for row in rows),
    )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_BATCH = 10_000


def copy_text(value: Any) -> str:
    """A value in COPY's text format: \\N for NULL, booleans t/f, times in ISO form, the
    four special characters of a text escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_into(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL's COPY FROM STDIN (psycopg2's copy_expert), COPY_BATCH rows a statement,
    streamed: several times the speed of INSERT ... VALUES pages for a bulk import or a
    restore. Caller owns the transaction."""
    cursor: Any = database.cursor()
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'COPY "{table}" ({cols}) FROM STDIN'
    count = 0
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(copy_text, row)))
        buffer.write("\n")
        count += 1
        if count % COPY_BATCH == 0:
            buffer.seek(0)
            cursor.copy_expert(sql, buffer)
            buffer = io.StringIO()
    if buffer.tell():
        buffer.seek(0)
        cursor.copy_expert(sql, buffer)
    return count


def bulk_copy(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """bulk_insert for rows already in stored form (texts, numbers, booleans, None): COPY
    on PostgreSQL (copy_into), bulk_insert on SQLite. Caller owns the transaction."""
    if not rows:
        return 0
    if not is_postgres():
        return bulk_insert(table, columns, rows)
    return copy_into(table, columns, rows)
