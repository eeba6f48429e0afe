"""What keeps the queue, its search and free slots at desk speed with a million entries,
pinned without timing anything: a dense search's capped count walks a bounded number of
entries; the queue's pages read entries through indexes only (SQLite's plans: no scan of
the entry table); a provider's busy time is read from covering indexes (no table rows).
Query counts per page are pinned in test_pg_parity (PAGE_QUERIES)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from peewee import SqliteDatabase
from playhouse.test_utils import count_queries

from tests.domain.test_pg_parity import _build
from waitlist_tui.domain import clock
from waitlist_tui.domain.fill.availability import find_matching_slots
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic, Entry
from waitlist_tui.domain.waitlist import listing
from waitlist_tui.domain.waitlist.listing import EntryQuery, list_entries


def _statements(run: Any) -> list[tuple[str, Any]]:
    with count_queries() as counter:
        run()
    return [record.msg for record in counter.get_queries()]


def _plan(sql: str, params: Any) -> list[str]:
    return [row[-1] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params)]


def test_a_dense_search_count_walks_a_bounded_number_of_entries(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(db_url)
    clinic = Clinic.get()
    query = EntryQuery(search="e", count_cap=1000)  # one letter: walks the queue
    exact = list_entries(query, clinic)
    assert exact.total == len(exact.items) >= 4 and not exact.total_capped
    monkeypatch.setattr(listing, "WALK_MAX", 2)  # PostgreSQL walks entries
    monkeypatch.setattr(listing, "WALK_CLIENTS_MAX", 2)  # SQLite walks clients
    floor = list_entries(query, clinic)
    # The page is whole; the count stopped after two entries (or clients) and says "at least
    # the page".
    assert [v.id for v in floor.items] == [v.id for v in exact.items]
    assert floor.total == len(floor.items) and floor.total_capped
    # The CLI's exact count (no cap) never stops early.
    uncapped = list_entries(EntryQuery(search="e"), clinic)
    assert uncapped.total == exact.total and not uncapped.total_capped


QUEUE_PAGES = {
    "default": EntryQuery(count_cap=1000),
    "provider": EntryQuery(provider="KIM", count_cap=1000),
    "service": EntryQuery(service="PT-EVAL", statuses=("waiting",), count_cap=1000),
    "search": EntryQuery(search="garcia", count_cap=1000),
    "dense search": EntryQuery(search="g", count_cap=1000),
    "newest": EntryQuery(sort="newest", count_cap=1000),
}
_FULL_SCAN = re.compile(r"^SCAN (\w+)$")


@pytest.mark.parametrize("kind", list(QUEUE_PAGES))
def test_queue_pages_never_scan_the_entry_table(db: object, db_url: str, kind: str) -> None:
    """Every statement of a queue page that reads entries reaches them through an index
    (SQLite's plan; SQLite plans as for a big table when it has no statistics)."""
    _build(db_url)
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's query plans")
    clinic = Clinic.get()
    statements = _statements(lambda: list_entries(QUEUE_PAGES[kind], clinic))
    reading_entries = [(sql, p) for sql, p in statements if 'FROM "entry"' in sql]
    assert reading_entries
    entry_aliases = {"t1", "t2", "entry"}  # peewee's aliases of the entry table here
    for sql, params in reading_entries:
        for line in _plan(sql, params):
            found = _FULL_SCAN.match(line)
            scanned = found.group(1) if found else None
            # t2 is the client in a join (reached by its key); the entry table is t1 there
            if scanned in entry_aliases and not _client_alias(sql, scanned):
                raise AssertionError(f"{kind}: full scan of entries: {line}\n{sql}")


def _client_alias(sql: str, alias: str | None) -> bool:
    return f'"client" AS "{alias}"' in sql


def test_busy_time_is_read_from_covering_indexes(db: object, db_url: str) -> None:
    _build(db_url)
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's query plans")
    entry = Entry.select().first()
    today = clock.today(Clinic.get().time_zone)
    statements = _statements(
        lambda: find_matching_slots(entry, today, today + dt.timedelta(days=14), limit=50)
    )
    busy = [(s, p) for s, p in statements if 'FROM "appointment"' in s or 'FROM "opening"' in s]
    assert len(busy) == 2
    for sql, params in busy:
        plan = " ".join(_plan(sql, params))
        assert "USING COVERING INDEX" in plan and "_provider_id_status_starts_at_ends_at" in plan, (
            plan
        )


@pytest.mark.parametrize("text", ["garcia", "e", "555", "chen emma", "nobody"])
def test_an_exact_count_of_many_matching_clients_goes_through_their_entries(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """More matching clients than a literal list takes: the exact count reaches entries
    through the clients (their index), and finds what the literal list found."""
    _build(db_url)
    clinic = Clinic.get()
    listed = list_entries(EntryQuery(search=text), clinic)
    monkeypatch.setattr(listing, "SEARCH_IDS_MAX", 0)
    through = list_entries(EntryQuery(search=text), clinic)
    assert (through.total, through.total_capped) == (listed.total, False)
    assert [v.id for v in through.items] == [v.id for v in listed.items]


WALKED_SPECS = [
    {},
    {"count_cap": 1000},
    {"count_cap": 1000, "offset": 2, "limit": 3},
    {"count_cap": 1000, "sort": "wait"},
    {"count_cap": 1000, "statuses": ("waiting",)},
    {"count_cap": 1000, "service": "PT-EVAL"},
]


@pytest.mark.parametrize(
    "text", ["garcia", "ga", "555", "chen emma", "garcía", "zoë", "zoe%garcia", "ana_g", "nobody"]
)
def test_a_page_walked_against_the_matching_clients_is_the_listed_page(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """More matching clients than a literal list takes, but few enough for a set: the page
    walks the queue against the set of them (listing._page_ids) and shows the rows, order
    and count of the literal list, and of the walk that checks each entry's client row."""
    _build(db_url)
    clinic = Clinic.get()

    def pages() -> list[tuple[list[Any], int, bool]]:
        found = [list_entries(EntryQuery(search=text, **spec), clinic) for spec in WALKED_SPECS]
        return [([v.id for v in p.items], p.total, p.total_capped) for p in found]

    listed = pages()
    monkeypatch.setattr(listing, "SEARCH_IDS_MAX", 0)
    assert pages() == listed  # against the set
    for most in (1, 3):  # the walk ends before the page fills: SQLite's own plan takes over
        monkeypatch.setattr(listing, "PAGE_WALK_MAX", most)
        assert pages() == listed
    monkeypatch.setattr(listing, "SEARCH_SET_MAX", -1)
    assert pages() == listed  # each entry's client checked


def test_a_page_walked_against_the_matching_clients_reads_the_queue_index(
    db: object, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk reads the active queue's index in its order, which holds each entry's client
    (v23), each client's rowid from the client id index checked against the trigram index's
    rowids (SQLite's plan): no entry row per step, and no sort of the matches."""
    _build(db_url)
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's query plans")
    monkeypatch.setattr(listing, "SEARCH_IDS_MAX", 0)
    clinic = Clinic.get()
    statements = _statements(lambda: list_entries(EntryQuery(search="garcia"), clinic))
    walk = [(s, p) for s, p in statements if 'FROM "entry" AS "t1" CROSS JOIN "client"' in s]
    assert len(walk) == 1
    plan = _plan(*walk[0])
    assert plan[0].startswith("SEARCH t1 USING INDEX entry_active_queue"), plan
    assert not any("TEMP B-TREE" in line for line in plan), plan
    assert any("USING INDEX entry_active_queue" in line for line in plan), plan
    assert any("VIRTUAL TABLE" in line for line in plan), plan
    assert not any(_FULL_SCAN.match(line) for line in plan), plan
