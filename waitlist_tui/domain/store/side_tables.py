"""Tables prepared in a side SQLite file by another process, then copied in whole.

A bulk loader (the demo) lets its generating process fill some tables itself: the stats
rollups it works out (demo_rollups). That process writes them to a file of their own, with
the tables' very DDL, sorts their indexes and analyzes them there, beside the loader's own
index builds. The loading connection attaches the file and copies each table with
INSERT ... SELECT *, which SQLite runs as a transfer when the target is empty and has the
same indexes: records and index entries are copied in order, nothing is decoded or sorted
again. At a million entries that turns some 11 s of grouping, inserting, index sorting and
analyzing in the loading process into about 1.5 s there.
SQLite only; the tables must hold no triggers yet (the loader installs them afterwards).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from peewee import Model, OperationalError

from waitlist_tui.domain.store import scratch_files
from waitlist_tui.domain.store.db import database, schema_of

ALIAS = "side_tables"
SIDE_PREFIX = "waitlist-side-"  # <pid>.<random>.db in the temp folder (scratch_files)
# Nobody else reads the side file, and a crash only leaves a file to delete. A 64 MB cache:
# with 200 MB it was the demo's generating process's largest part (peak 670 -> 515 MB at a
# million entries).
_PRAGMAS = ("journal_mode=off", "synchronous=off", "locking_mode=exclusive", "cache_size=-64000")

Rows = Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]  # table -> (columns, rows)


@contextmanager
def side_file(wanted: bool) -> Iterator[str | None]:
    """A path for the side file (None unless `wanted`). On the way out, after the caller's
    transaction (an attached file stays locked until then), it is detached and deleted."""
    if not wanted:
        yield None
        return
    path = scratch_files.create(Path(tempfile.gettempdir()), SIDE_PREFIX, ".db")
    try:
        yield path
    finally:
        with suppress(OperationalError):  # not attached: the build stopped before the copy
            database.execute_sql(f"DETACH DATABASE {ALIAS}")
        with suppress(FileNotFoundError):
            os.remove(path)


def target_schema(models: Sequence[type[Model]]) -> list[str]:
    """Give the (empty) tables of `models` in the bound database their indexes, so that the
    copy transfers them too, and return the tables' and indexes' DDL for the side file."""
    for model in models:
        schema_of(model).create_indexes(safe=True)
    tables = [model._meta.table_name for model in models]
    marks = ", ".join("?" for _ in tables)
    rows = database.execute_sql(
        f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
        "ORDER BY type = 'index', name",
        tables,
    )
    return [sql for (sql,) in rows]


class SideWriter:
    """The side file filled a batch at a time (in the preparing process, on a connection of
    its own), so that a preparer need not hold all its rows until the end: the tables are
    made at once, rows appended in the order given (a rowid table keeps it), and the indexes
    sorted once and the statistics taken at `finish`."""

    def __init__(self, path: str, schema: Sequence[str]) -> None:
        self._schema = list(schema)
        self._creates = [sql for sql in schema if sql.upper().startswith("CREATE TABLE")]
        self._con = sqlite3.connect(path, isolation_level=None)
        try:
            self._con.execute("PRAGMA page_size=8192")
            for pragma in _PRAGMAS:
                self._con.execute(f"PRAGMA {pragma}")
            self._con.execute("BEGIN")
            for sql in self._creates:
                self._con.execute(sql)
        except BaseException:
            self._con.close()
            raise

    def execute(self, sql: str) -> None:
        """A statement of the preparer's own (a staging table of its own, say)."""
        self._con.execute(sql)

    def append(self, table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        self._con.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    def finish(self) -> None:
        """The indexes, sorted once, the statistics copy_in takes over, and the commit."""
        try:
            for sql in self._schema:
                if sql not in self._creates:
                    self._con.execute(sql)
            self._con.execute("ANALYZE")
            self._con.execute("COMMIT")
        finally:
            self._con.close()

    def close(self) -> None:
        """Give up (after a failure): the file is deleted by side_file."""
        self._con.close()


def write(path: str, schema: Sequence[str], tables: Rows) -> None:
    """Fill the side file at once: the tables, each one's rows in the order given, then their
    indexes and statistics (SideWriter)."""
    writer = SideWriter(path, schema)
    try:
        for table, (cols, rows) in tables.items():
            writer.append(table, cols, rows)
    except BaseException:
        writer.close()
        raise
    writer.finish()


def analyze_others(tables: Sequence[str]) -> None:
    """ANALYZE every table of the bound database but the side `tables`, whose statistics come
    with them (copy_in). Inside the caller's transaction, while the side file is still being
    written: the loader has nothing else to do then."""
    names = database.execute_sql(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
    )
    for (name,) in list(names):
        if name not in tables:
            database.execute_sql(f'ANALYZE main."{name}"')


def copy_in(path: str, tables: Sequence[str]) -> dict[str, int]:
    """Copy the side file's `tables` into the bound database's empty ones (which keep their
    indexes: see target_schema), and their statistics into its sqlite_stat1 once
    analyze_others has made one (the same rows and indexes give the same figures). Caller
    owns the transaction and has side_file detach the file after it. Returns row counts."""
    database.execute_sql(f"ATTACH DATABASE ? AS {ALIAS}", (path,))
    for table in tables:
        database.execute_sql(f'INSERT INTO main."{table}" SELECT * FROM {ALIAS}."{table}"')
    analyzed = database.execute_sql(
        "SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_stat1'"
    ).fetchone()
    if analyzed:
        marks = ", ".join("?" for _ in tables)
        database.execute_sql(f"DELETE FROM main.sqlite_stat1 WHERE tbl IN ({marks})", tables)
        database.execute_sql(
            f"INSERT INTO main.sqlite_stat1 SELECT * FROM {ALIAS}.sqlite_stat1 "
            f"WHERE tbl IN ({marks})",
            tables,
        )
        database.execute_sql("ANALYZE main.sqlite_master")  # the planner reads them again
    return {
        table: database.execute_sql(f'SELECT COUNT(*) FROM main."{table}"').fetchone()[0]
        for table in tables
    }
