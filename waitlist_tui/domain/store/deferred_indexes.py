"""A bulk write's secondary indexes built once at its end rather than kept row by row.

An import into a new or small clinic adds more rows than its tables hold: keeping entry's
eight secondary indexes (and the audit trail's) up to date row by row, each insert landing on
a random page of every index, was a third of a 100,000-row import's inserts on SQLite; an
index built from scratch at the end is one sorted pass over the table. A table that already
holds more rows than the block adds keeps its indexes as they are (rebuilding them would
read every row for a few new ones).

Only non-unique indexes are deferred: a unique index still refuses a duplicate at the insert
that makes it (the import names the rows of that batch). The indexes are dropped and made
again from their own text inside the caller's transaction, so a rollback or a killed process
leaves them as they were (as rollups.bulk_entry_counts does with its trigger), and their
planner statistics (sqlite_stat1) are put back as they were.

SQLite only. On PostgreSQL DROP INDEX takes the table's ACCESS EXCLUSIVE lock until the import
commits, so every other desk's read of the queue would wait out the whole import; the server's
gain measured within the noise (15.0 vs 16.2 s of server CPU for 100,000 rows), and COPY
already writes the rows there. A shared database keeps its indexes row by row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from waitlist_tui.domain.store.db import database, is_postgres


@contextmanager
def deferred_indexes(tables: Sequence[str], adding: int, least: int = 1) -> Iterator[None]:
    """Within the caller's transaction: the non-unique indexes of each of `tables` holding
    at most `adding` rows dropped while the block writes, and made again at its end (when
    the block adds at least `least` rows)."""
    if is_postgres() or adding < max(least, 1):
        yield
        return
    kept: list[tuple[str, str]] = []
    for table in tables:
        if not _holds_more(table, adding):
            kept += _indexes(table)
    stats = _stats([name for name, _ in kept])
    for name, _ in kept:
        database.execute_sql(f'DROP INDEX "{name}"')
    yield
    for _, sql in kept:
        database.execute_sql(sql)
    if stats:
        database.execute_sql(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES "
            + ", ".join("(?, ?, ?)" for _ in stats),
            [value for row in stats for value in row],
        )
        database.execute_sql("ANALYZE sqlite_master")  # the planner reads them again


def _indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE text) of the table's non-unique indexes."""
    rows = database.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY name",
        (table,),
    ).fetchall()
    return [
        (str(name), str(sql))
        for name, sql in rows
        if not str(sql).upper().startswith("CREATE UNIQUE")
    ]


def _holds_more(table: str, rows: int) -> bool:
    """Whether the table holds more than `rows` rows (reads at most rows + 1 of them)."""
    found = database.execute_sql(
        f'SELECT COUNT(*) FROM (SELECT 1 FROM "{table}" LIMIT {int(rows) + 1}) x'
    ).fetchone()
    return bool(found and found[0] > rows)


def _stats(names: list[str]) -> list[tuple[str, str, str]]:
    """The planner statistics of these indexes, if the database was ever analysed."""
    if not names:
        return []
    if not database.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).fetchone():
        return []
    marks = ", ".join("?" for _ in names)
    return [
        (str(tbl), str(idx), str(stat))
        for tbl, idx, stat in database.execute_sql(
            f"SELECT tbl, idx, stat FROM sqlite_stat1 WHERE idx IN ({marks})", names
        ).fetchall()
    ]
