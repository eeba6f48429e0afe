"""Stats rollups prepared in a side SQLite file by another process, then copied in whole.

A bulk loader that works the rollups out itself (the demo, in its generating process: see
demo_rollups) writes them to a file of their own, with the rollup tables' very DDL, and sorts
their indexes there. The loading connection attaches the file and copies each table with
INSERT ... SELECT *, which SQLite runs as a transfer when the target is empty and has the
same indexes: records and index entries are copied in order, nothing is decoded or sorted
again. At a million entries that turns some 9 s of grouping, inserting and index sorting in
the loading process into about 1 s there (the rest runs beside its own index builds).
SQLite only; the tables must hold no triggers yet (the loader installs them afterwards).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from peewee import OperationalError

from waitlist_tui.domain import rollup_sql as q
from waitlist_tui.domain.db import database
from waitlist_tui.domain.models import StatsCount, StatsPoint

TABLES = ("stats_count", "stats_point")
ALIAS = "prepared_rollups"
# Nobody else reads the side file, and a crash only leaves a file to delete.
_PRAGMAS = ("journal_mode=off", "synchronous=off", "locking_mode=exclusive", "cache_size=-200000")


@contextmanager
def side_file(wanted: bool) -> Iterator[str | None]:
    """A path for the side file (None unless `wanted`). On the way out, after the caller's
    transaction (an attached file stays locked until then), it is detached and deleted."""
    if not wanted:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="waitlist-rollups-", suffix=".db")
    os.close(fd)
    try:
        yield path
    finally:
        with suppress(OperationalError):  # not attached: the build stopped before the copy
            database.execute_sql(f"DETACH DATABASE {ALIAS}")
        with suppress(FileNotFoundError):
            os.remove(path)


def target_schema() -> list[str]:
    """Give the (empty) rollup tables of the bound database their indexes, so that the copy
    transfers them too, and return the tables' and indexes' DDL for the side file."""
    for model in (StatsCount, StatsPoint):
        model._schema.create_indexes(safe=True)
    marks = ", ".join("?" for _ in TABLES)
    rows = database.execute_sql(
        f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
        "ORDER BY type = 'index', name",
        TABLES,
    )
    return [sql for (sql,) in rows]


def write(path: str, schema: Sequence[str], counts: list[tuple], points: list[tuple]) -> None:
    """Fill the side file (in the preparing process, on a connection of its own): the tables,
    their rows (stats_count in key order, stats_point in the order a rebuild inserts them),
    then their indexes, sorted once."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA page_size=8192")
        for pragma in _PRAGMAS:
            con.execute(f"PRAGMA {pragma}")
        con.execute("BEGIN")
        tables = [sql for sql in schema if sql.upper().startswith("CREATE TABLE")]
        for sql in tables:
            con.execute(sql)
        for table, cols, rows in (
            ("stats_count", q.COUNT_COLUMNS, counts),
            ("stats_point", q.POINT_COLUMNS, points),
        ):
            marks = ", ".join("?" for _ in cols.split(", "))
            con.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
        for sql in schema:
            if sql not in tables:
                con.execute(sql)
        con.execute("ANALYZE")  # the statistics copy_in takes over
        con.execute("COMMIT")
    finally:
        con.close()


def analyze_others() -> None:
    """ANALYZE every table of the bound database but the rollup tables, whose statistics come
    with them (copy_in). Inside the caller's transaction, while the side file is still being
    written: the loader has nothing else to do then."""
    names = database.execute_sql(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
    )
    for (name,) in list(names):
        if name not in TABLES:
            database.execute_sql(f'ANALYZE main."{name}"')


def copy_in(path: str) -> dict[str, int]:
    """Copy the side file's rollups into the bound database's empty rollup tables (which keep
    their indexes: see target_schema), and their statistics into its sqlite_stat1 once
    analyze_others has made one (the same rows and indexes give the same figures: the side
    file analyzed them beside this process's index builds). Caller owns the transaction and
    has side_file detach the file after it. Returns the rollup row counts."""
    database.execute_sql(f"ATTACH DATABASE ? AS {ALIAS}", (path,))
    for model in (StatsCount, StatsPoint):
        table = model._meta.table_name
        database.execute_sql(f'INSERT INTO main."{table}" SELECT * FROM {ALIAS}."{table}"')
    analyzed = database.execute_sql(
        "SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_stat1'"
    ).fetchone()
    if analyzed:
        marks = ", ".join("?" for _ in TABLES)
        database.execute_sql(f"DELETE FROM main.sqlite_stat1 WHERE tbl IN ({marks})", TABLES)
        database.execute_sql(
            f"INSERT INTO main.sqlite_stat1 SELECT * FROM {ALIAS}.sqlite_stat1 "
            f"WHERE tbl IN ({marks})",
            TABLES,
        )
        database.execute_sql("ANALYZE main.sqlite_master")  # the planner reads them again
    return {
        table: database.execute_sql(f'SELECT COUNT(*) FROM main."{table}"').fetchone()[0]
        for table in TABLES
    }
