"""Open a database and bring its schema up to date: apart from db.py (the proxy every model
binds to), so that the proxy imports nothing back and db -> schema -> db is no loop."""

from __future__ import annotations

from peewee import Database, SqliteDatabase

from waitlist_tui.domain.store.db import bind, make_database
from waitlist_tui.domain.store.schema import ensure_schema


def connect(url: str) -> Database:
    """Open the database for `url`, bind the models to it and bring its schema up to date."""
    db = bind(make_database(url))
    db.connect(reuse_if_open=True)
    ensure_schema(db)
    if isinstance(db, SqliteDatabase):
        db.pragma("optimize", 0x10002)  # cheap; refreshes planner statistics when stale
    return db
