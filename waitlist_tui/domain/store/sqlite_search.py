"""SQLite's trigram index for text search (schema v20); PostgreSQL has pg_trgm (pg_indexes.py).

A search term matches `%term%` anywhere in client.search, which no b-tree answers: a term that
picks out a few clients read the whole client table (500,000 rows at a million entries,
~300 ms a keystroke). An FTS5 table with the trigram tokenizer (SQLite 3.34+) indexes the
same text; its rowid is the client's rowid, and triggers on client keep it in step with every
write (the app's, an import's, a hand-written UPDATE). It is contentless: it holds only the
index, and a deletion hands it the text that was indexed (the trigger has it).

The indexed text is the search text and one space, so that a term of two characters (too
short for a trigram) is the start of at least one trigram of every text holding it: the
index's vocabulary names those trigrams (`client_search_vocab`), and a match of any of them
picks out the clients. The index only narrows: the caller keeps its LIKE on client.search,
so the clients found are exactly LIKE's (the index's case folding is a superset of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from peewee import Database, SqliteDatabase

FTS_TABLE = "client_search_fts"
VOCAB_TABLE = "client_search_vocab"
TRIGGERS = ("client_search_fts_ai", "client_search_fts_ad", "client_search_fts_au")
TRIGRAM = 3
PAIR = 2  # a two-character term: looked up through the vocabulary of trigrams

_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search, content='', tokenize='trigram')",
    f"CREATE VIRTUAL TABLE {VOCAB_TABLE} USING fts5vocab({FTS_TABLE}, 'row')",
    f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON client BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search) VALUES (new.rowid, new.search || ' '); END",
    f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON client BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search) "
    f"VALUES ('delete', old.rowid, old.search || ' '); END",
    f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF search ON client BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search) "
    f"VALUES ('delete', old.rowid, old.search || ' '); "
    f"INSERT INTO {FTS_TABLE}(rowid, search) VALUES (new.rowid, new.search || ' '); END",
)


def install(db: Database) -> bool:
    """Create the index and its triggers and fill it from the clients, unless they are
    already there; inside the caller's transaction. A no-op (False) on PostgreSQL."""
    if not isinstance(db, SqliteDatabase):
        return False
    if is_installed(db):
        return True
    drop(db)
    for sql in _DDL:
        db.execute_sql(sql)
    db.execute_sql(
        f"INSERT INTO {FTS_TABLE}(rowid, search) SELECT rowid, search || ' ' FROM client"
    )
    return True


@contextmanager
def bulk_clients(db: Database) -> Iterator[None]:
    """Within the caller's transaction: clients written by the block indexed in one statement
    at its end instead of one trigger call each (an import's 100,000 new clients: ~3.5 s of
    CPU through the trigger, ~0.9 s in one INSERT ... SELECT). New clients take rowids above
    today's highest; while the block runs, the delete and update triggers watch only the rows
    below it (a new row's text is not in the index yet: a 'delete' of it would corrupt a
    contentless index), and the new rows are indexed with their final text at the end. The
    triggers are dropped and made again inside the transaction, so a rollback or a killed
    process leaves them as they were, like rollups.bulk_entry_counts. A no-op on PostgreSQL
    (pg_trgm's GIN index keeps itself) and before the index exists."""
    if not isinstance(db, SqliteDatabase) or not is_installed(db):
        yield
        return
    row = db.execute_sql("SELECT COALESCE(MAX(rowid), 0) FROM client").fetchone()
    top = int(row[0]) if row else 0
    for name in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER {name}")
    for sql in _DDL[3:]:  # delete and update, for the rows indexed before the block
        db.execute_sql(sql.replace(" BEGIN ", f" WHEN old.rowid <= {top} BEGIN ", 1))
    yield
    db.execute_sql(
        f"INSERT INTO {FTS_TABLE}(rowid, search) SELECT rowid, search || ' ' FROM client "
        "WHERE rowid > ?",
        (top,),
    )
    for name in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    for sql in _DDL[2:]:
        db.execute_sql(sql)


def drop(db: Database) -> None:
    """Remove the index and its triggers (maintenance.wipe: the rows it indexed are gone)."""
    if not isinstance(db, SqliteDatabase):
        return
    for name in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    db.execute_sql(f"DROP TABLE IF EXISTS {VOCAB_TABLE}")
    db.execute_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def is_installed(db: Database) -> bool:
    if not isinstance(db, SqliteDatabase):
        return False
    names = {FTS_TABLE, VOCAB_TABLE, *TRIGGERS}
    marks = ", ".join("?" for _ in names)
    found = db.execute_sql(
        f"SELECT COUNT(*) FROM sqlite_master WHERE name IN ({marks})", tuple(names)
    ).fetchone()
    return bool(found and found[0] == len(names))


def match_expression(db: Database, terms: list[str]) -> str | None:
    """The FTS5 query that every client holding all `terms` matches (and few others), or None
    when no term narrows: one-character terms, a two-character term outside ASCII (its case
    folding could differ from Python's). A pair that starts no indexed trigram is held by no
    text: its own phrase, too short for a trigram, matches no row."""
    parts = []
    for term in terms:
        if len(term) >= TRIGRAM:
            parts.append(_phrase(term))
        elif len(term) == PAIR and term.isascii():
            trigrams = [
                row[0]
                for row in db.execute_sql(
                    f"SELECT term FROM {VOCAB_TABLE} WHERE term >= ? AND term < ?",
                    (term, term + "\U0010ffff"),
                )
            ]
            if not trigrams:  # no text holds the pair: a phrase too short to match any row
                return _phrase(term)
            parts.append("(" + " OR ".join(_phrase(t) for t in trigrams) + ")")
    return " AND ".join(parts) if parts else None


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
