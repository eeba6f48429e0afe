"""What PostgreSQL needs beyond the models' own indexes (schema v8); SQLite keeps its own.

Text search matches `%term%` anywhere in client.search: no b-tree can answer that, so
PostgreSQL read the whole client table for every keystroke (25-30 ms with ILIKE at 100,000
entries). A GIN index of its trigrams (the pg_trgm extension) answers a term of three or more
characters from the index (0.1-0.5 ms). pg_trgm ships with PostgreSQL (contrib) and is a
trusted extension (13+): the database's owner may create it. Where it cannot be created, the
search still works, by reading the table as before.

Stats over a period (schema v24) group the period's median values per (service, provider,
bin) from one range of stats_point_period, by time, the columns they group by included so
that no row is read: at 1,000,000 entries one index probe per bin of all time cost more than
the rest of the figures. SQLite keeps the probes (domain/stats/from_rollups.py).
"""

from __future__ import annotations

from peewee import Database, DatabaseError, PostgresqlDatabase

TRIGRAM_EXTENSION = "pg_trgm"
TRIGRAM_INDEX = "client_search_trgm"
STATS_PERIOD_INDEX = "stats_point_period"


def install(db: Database) -> bool:
    """Create the extension (if it can be) and the trigram index, inside the caller's
    transaction; True when the index is there. A no-op (False) on SQLite."""
    if not isinstance(db, PostgresqlDatabase) or not _trigram_ready(db):
        return False
    db.execute_sql(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON client USING gin (search gin_trgm_ops)"
    )
    return True


def install_stats_period(db: Database) -> None:
    """stats_point_period, inside the caller's transaction; a no-op on SQLite."""
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            f"CREATE INDEX IF NOT EXISTS {STATS_PERIOD_INDEX} ON stats_point "
            "(kind, clinic_id, created_at) INCLUDE (service_id, provider_id, bin) "
            "WHERE bin IS NOT NULL"
        )


def has_trigram_index(db: Database) -> bool:
    if not isinstance(db, PostgresqlDatabase):
        return False
    return TRIGRAM_INDEX in {index.name for index in db.get_indexes("client")}


def _trigram_ready(db: Database) -> bool:
    """pg_trgm installed in this database, or created now; False when the server lacks it or
    this role may not create it (the failed CREATE is rolled back to a savepoint, the rest of
    the migration goes on)."""
    query = "SELECT 1 FROM pg_extension WHERE extname = %s"
    if db.execute_sql(query, (TRIGRAM_EXTENSION,)).fetchone():
        return True
    available = "SELECT 1 FROM pg_available_extensions WHERE name = %s"
    if not db.execute_sql(available, (TRIGRAM_EXTENSION,)).fetchone():
        return False
    try:
        with db.atomic():  # a savepoint: an error here leaves the outer transaction usable
            db.execute_sql(f"CREATE EXTENSION IF NOT EXISTS {TRIGRAM_EXTENSION}")
    except DatabaseError:
        return False
    return True
