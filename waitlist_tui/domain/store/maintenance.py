"""Housekeeping over the whole database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from waitlist_tui.domain.store import (
    audit,
    demand_columns,
    pg_indexes,
    rollup_rebuild,
    rollups,
    sqlite_search,
)
from waitlist_tui.domain.store.db import database, schema_of
from waitlist_tui.domain.store.models import ALL_MODELS, Client, SchemaInfo, StatsPoint

DATA_MODELS = [m for m in ALL_MODELS if m is not SchemaInfo]


def wipe(*, indexes: bool = True) -> None:
    """Empty every table but the schema facts by dropping and recreating them (far faster than
    DELETE on large tables). With indexes=False the caller bulk-loads and then calls
    create_indexes() and finish_bulk_load(): indexes sorted once instead of updated row by
    row, stats rollups computed once instead of by a trigger per row.
    Caller owns the transaction; both SQLite and PostgreSQL roll DDL back with it."""
    sqlite_search.drop(database.obj)  # its triggers go with client; its rows would be stale
    database.drop_tables(
        DATA_MODELS, safe=True, cascade=database.obj.__class__.__name__.startswith("Postgres")
    )
    for model in DATA_MODELS:
        schema_of(model).create_table(safe=False)
    if indexes:
        create_indexes()
        rollups.install_triggers()  # dropping the tables dropped their triggers


def finish_bulk_load(rollups_loaded: bool = False) -> None:
    """After wipe(indexes=False), a bulk insert and create_indexes(): fill the stats rollups
    from the rows, unless the loader copied them in ready-made (see side_tables), then put
    the triggers back. Caller owns the transaction and runs ANALYZE afterwards."""
    if not rollups_loaded:
        rollup_rebuild.rebuild(analyze=False)  # the loader analyzes it all
    demand_columns.refill(rollups.dialect())  # the rows went in with its triggers off
    rollups.install_triggers()


def rebuild_stats(actor: str, check: bool = False) -> dict[str, Any]:
    """Recompute the stats rollups from the raw rows and reinstall their triggers, in one
    transaction: a repair tool (the triggers keep the rollups right on every write). With
    check, also says whether the rollups already matched (reads them all: slower)."""
    started = time.perf_counter()
    with database.atomic():
        before = rollup_rebuild.state() if check else None
        counts: dict[str, Any] = rollup_rebuild.rebuild()
        rollups.install_triggers()
        if before is not None:
            counts["matched"] = before == rollup_rebuild.state()
        audit.record(actor, "stats.rebuild", "stats", "rollups", {"rows": [None, counts]})
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return counts


def create_indexes(tables: Sequence[str] | None = None) -> None:
    """Create the missing indexes of every data table, or of the named ones: the models' own,
    and the trigram index on client, PostgreSQL's (pg_indexes) or SQLite's (sqlite_search),
    and PostgreSQL's stats_point_period, built once from the loaded rows (wipe() dropped
    them)."""
    for model in DATA_MODELS:
        if tables is None or model._meta.table_name in tables:
            schema_of(model).create_indexes(safe=True)
    if tables is None or Client._meta.table_name in tables:
        pg_indexes.install(database.obj)
        sqlite_search.install(database.obj)
    if tables is None or StatsPoint._meta.table_name in tables:
        pg_indexes.install_stats_period(database.obj)
