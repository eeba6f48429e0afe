"""The trigram index behind text search (SQLite's FTS5 table, store/sqlite_search.py; pg_trgm
on PostgreSQL) finds exactly what LIKE alone finds, and SQLite's stays in step with every
write to a client: the app's, an erasure, a hand-written UPDATE or DELETE."""

from __future__ import annotations

from typing import Any

import pytest
from peewee import SqliteDatabase

from tests.domain.test_pg_parity import SEARCHES, _build
from waitlist_tui.domain.catalog.clients import list_clients
from waitlist_tui.domain.store import sqlite_search
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Client, Clinic
from waitlist_tui.domain.waitlist import listing
from waitlist_tui.domain.waitlist.listing import EntryQuery, list_entries

TEXTS = [*SEARCHES, "ar", "zz", "55", "mm", "n g", "ch em", 'o"b', "é", "ë", "rci", "e.c"]


def _answers() -> dict[str, Any]:
    clinic = Clinic.get()
    found: dict[str, Any] = {}
    for text in TEXTS:
        for cap in (None, 1, 1000):
            page = list_entries(EntryQuery(search=text, count_cap=cap, limit=2), clinic)
            found[f"{text!r} cap {cap}"] = (
                [v.id for v in page.items],
                page.total if cap is None or page.total < cap else cap,
            )
        rows, total = list_clients(clinic, text)
        found[f"{text!r} clients"] = ([c.id for c in rows], total)
    return found


def _without_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """LIKE alone, as before the index: no match expression (SQLite), no term long enough to
    count through the clients (PostgreSQL)."""
    monkeypatch.setattr(sqlite_search, "match_expression", lambda db, terms: None)
    monkeypatch.setattr(sqlite_search, "TRIGRAM", 10**6)


@pytest.mark.parametrize("ids_max", [listing.SEARCH_IDS_MAX, 0])
def test_the_index_finds_what_like_finds(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch, ids_max: int
) -> None:
    """With ids_max 0 every search takes the dense path: the page walks the queue and the
    capped count goes through the clients the index picks (LIKE alone: walks the entries)."""
    _build(db_url)
    monkeypatch.setattr(listing, "SEARCH_IDS_MAX", ids_max)
    indexed = _answers()
    _without_index(monkeypatch)
    assert indexed == _answers()


def test_sqlite_index_follows_every_write_to_clients(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's own index (PostgreSQL's is a plain index on client.search)")
    _build(db_url)
    assert sqlite_search.is_installed(database.obj)
    from waitlist_tui.domain.privacy.erasure import erase_in_transaction

    bob = Client.get(Client.first_name == "Bob")
    with database.atomic():
        erase_in_transaction(bob, "staff", "test")
    database.execute_sql(
        "UPDATE client SET search = 'zara quinn zq@example.com' WHERE first_name = 'Jane'"
    )
    database.execute_sql(
        "DELETE FROM entry WHERE client_id IN (SELECT id FROM client WHERE first_name = 'Chen')"
    )
    database.execute_sql("DELETE FROM client WHERE first_name = 'Chen'")
    database.execute_sql(
        f"INSERT INTO {sqlite_search.FTS_TABLE}({sqlite_search.FTS_TABLE}) "
        "VALUES ('integrity-check')"
    )
    clinic = Clinic.get()
    assert [c.first_name for c in list_clients(clinic, "zara")[0]] == ["Jane"]
    assert list_clients(clinic, "jane")[1] == 0
    assert list_clients(clinic, "gardner")[1] == 0
    assert [c.first_name for c in list_clients(clinic, "emma")[0]] == ["Emma"]
    indexed = _answers()
    _without_index(monkeypatch)
    assert indexed == _answers()


def test_a_two_letter_term_reads_the_index_vocabulary(db: object, db_url: str) -> None:
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's own index")
    _build(db_url)
    # "ch" starts trigrams of chen, emma.chen...; "zz" starts none: a phrase too short to match
    assert sqlite_search.match_expression(database.obj, ["ch"]).startswith('("ch')
    assert sqlite_search.match_expression(database.obj, ["zz"]) == '"zz"'
    assert sqlite_search.match_expression(database.obj, ["g"]) is None
    assert sqlite_search.match_expression(database.obj, ["é1"]) is None  # not ASCII: LIKE
    assert sqlite_search.match_expression(database.obj, ['o"b']) == '"o""b"'
