"""Housekeeping over the whole database."""

from __future__ import annotations

from waitlist_tui.domain.db import database
from waitlist_tui.domain.models import ALL_MODELS, SchemaInfo

DATA_MODELS = [m for m in ALL_MODELS if m is not SchemaInfo]


def wipe(*, indexes: bool = True) -> None:
    """Empty every table but the schema facts by dropping and recreating them (far faster than
    DELETE on large tables). With indexes=False the caller bulk-loads and then calls
    create_indexes(), which sorts once instead of updating every index row by row.
    Caller owns the transaction; both SQLite and PostgreSQL roll DDL back with it."""
    database.drop_tables(
        DATA_MODELS, safe=True, cascade=database.obj.__class__.__name__.startswith("Postgres")
    )
    for model in DATA_MODELS:
        model._schema.create_table(safe=False)
    if indexes:
        create_indexes()


def create_indexes() -> None:
    for model in DATA_MODELS:
        model._schema.create_indexes(safe=True)
