"""Recompute the stats rollups from the raw rows, in bulk: after a bulk load (the demo on
PostgreSQL; on SQLite it works them out itself and copies them in, see side_tables), in the
migration that brings them in, and as `waitlist-tui maintenance rebuild-stats`.

The rows are the ones the triggers would have written (the same expressions from rollup_sql),
so a rebuild and a history of trigger writes give the same tables (the tests compare them).
Built for speed at a million rows: indexes dropped and sorted anew at the end, tables read
straight through, 15-minute rows grouped first and the days summed from them.
"""

from __future__ import annotations

from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.db import database, schema_of
from waitlist_tui.domain.store.models import StatsCount, StatsPoint
from waitlist_tui.domain.store.rollups import dialect

KEY = "clinic_id, fact, lvl, t, service_id, provider_id, status"
SUMS = "SUM(n), SUM(n1), SUM(s1), SUM(n2), SUM(s2)"


def rebuild(analyze: bool = True) -> dict[str, int]:
    """Recompute every rollup. `analyze`: refresh the planner's statistics of both tables (a
    caller that analyzes the whole database afterwards need not; without them PostgreSQL
    reads a million rows to sum a few).
    Caller owns the transaction; nothing else may write meanwhile (SQLite's write lock, or the
    table locks taken here on PostgreSQL, see to that). Returns the rollup row counts."""
    d = dialect()
    if d.postgres:
        database.execute_sql(
            "LOCK TABLE entry, appointment, opening, offer IN SHARE ROW EXCLUSIVE MODE"
        )
    for model in (StatsCount, StatsPoint):
        for index in model._meta.fields_to_index():
            database.execute_sql(f'DROP INDEX IF EXISTS "{index._name}"')
    database.execute_sql("DELETE FROM stats_count")
    database.execute_sql("DELETE FROM stats_point")
    database.execute_sql(d.pair_points(None))
    database.execute_sql(d.fill_points(None))
    insert = f"INSERT INTO stats_count ({q.COUNT_COLUMNS}) "
    for fact in (q.BOOKED, q.SOONER_BIN, q.FILL_BIN, q.BOOKED_AT, q.FILLED_AT):
        database.execute_sql(insert + d.point_groups(fact))
    quarter = "(SELECT 0 AS lvl) l"
    for select in (
        f"{d.entry_select('e', 1)} FROM {d.scan('entry', 'e', True)}, {quarter}",
        f"{d.opening_select('o', 1)} FROM {d.scan('opening', 'o', True)}, {quarter}",
        f"{d.offer_select('o', 'f', 1)} FROM {d.scan('offer', 'f', True)} "
        f"JOIN opening o ON o.id = f.opening_id, {quarter}",
    ):
        database.execute_sql(
            f"{insert}SELECT 0, {KEY}, {SUMS} FROM ({select.format(flag='0')}) x GROUP BY t, {KEY}"
        )
    days = "clinic_id, fact, 1, t / 96, service_id, provider_id, status"
    database.execute_sql(
        f"{insert}SELECT 0, {days}, {SUMS} FROM stats_count WHERE lvl = 0 "
        f"GROUP BY fact, t / 96, {days}"
    )
    for model in (StatsCount, StatsPoint):
        schema_of(model).create_indexes(safe=True)
        if analyze:
            database.execute_sql(f"ANALYZE {model._meta.table_name}")
    return counts()


def counts() -> dict[str, int]:
    """The rollup tables' row counts."""
    return {
        name: database.execute_sql(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        for name in ("stats_count", "stats_point")
    }


State = tuple[dict[tuple[str, ...], tuple[int, ...]], set[tuple[str, ...]]]


def state() -> State:
    """The rollups as sums per key (appended PostgreSQL rows folded in, rows of zeros left
    out) and the set of points: equal for two databases whenever the figures they give are.
    Reads every rollup row: for checks and tests."""
    counts: dict[tuple[str, ...], tuple[int, ...]] = {}
    rows = database.execute_sql(
        f"SELECT {KEY}, {SUMS} FROM stats_count "
        "GROUP BY clinic_id, fact, lvl, t, service_id, provider_id, status"
    )
    for row in rows:
        sums = tuple(int(v) for v in row[7:])
        if any(sums):
            counts[tuple(str(v) for v in row[:7])] = sums
    points = {
        tuple(str(v) for v in row)
        for row in database.execute_sql("SELECT * FROM stats_point").fetchall()
    }
    return counts, points
