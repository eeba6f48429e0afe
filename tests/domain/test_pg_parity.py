"""PostgreSQL parity: the same data answers the same searches and filters on both backends,
through the paths PostgreSQL takes its own way (a plain LIKE over the pg_trgm index, the
provider preference's correlated aggregate, in the queue's filter and the finder's ranking); and the queue's pages keep their query counts.
"""

from __future__ import annotations

from typing import Any

import pytest
from peewee import SqliteDatabase
from playhouse.test_utils import count_queries

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.clients import list_clients
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.fill.finder import TypedSlot, find_for_typed
from waitlist_tui.domain.store import pg_indexes
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic
from waitlist_tui.domain.waitlist import changes
from waitlist_tui.domain.waitlist.listing import EntryQuery, list_entries

# first, last, email, phone, preferred providers: names with accents, a wildcard in an
# email, providers named and not.
CLIENTS = [
    ("Jane", "Doe", "jane.doe@example.com", "(617) 555-0142", ["KIM"]),
    ("Ana", "García", "ana_g@example.org", "617-555-0199", []),
    ("Zoë", "Garcia-Lopez", "zoe%garcia@example.net", "+1 617 555 1932", ["LINDQVIST"]),
    ("Émile", "Durand", None, "617-555-0100", ["KIM", "LINDQVIST"]),
    ("Bob", "Gardner", "bob@gar.example", None, []),
    ("Emma", "Chen", "emma.chen@example.com", "617-555-7777", ["KIM"]),
    ("Chen", "Emmanuel", None, "617-555-7778", []),
]

SEARCHES = [
    "garcia", "garcía", "GARCIA", "gar", "ga", "g", "zoë", "émile", "emile", "emma chen",
    "chen emma", "0142", "555-0142", "(617) 555", "1932", "ana_g", "ana%g", "zoe%garcia",
    "_", "%", "example.com", "@gar.", "nobody", "e", "doe 0142", "jane doe nobody",
]  # fmt: skip


def _build(url: str) -> None:
    connect(url)
    apply_setup(demo_clinic(), STAFF)
    for first, last, email, phone, providers in CLIENTS:
        client: dict[str, Any] = {"first_name": first, "last_name": last}
        if email:
            client["email"] = email
        if phone:
            client["phone"] = phone
        view = adding_create(client, providers)
        if first == "Bob":  # one closed entry: the default statuses leave it out
            changes.update(view.id, {"status": "cancelled", "version": 1}, STAFF)


def adding_create(client: dict[str, Any], providers: list[str]) -> Any:
    from waitlist_tui.domain.waitlist import adding

    return adding.create(entry_payload(client=client, preferred_providers=providers), STAFF)


def _answers() -> dict[str, Any]:
    """Each search's and filter's total and the names on its page (sorted: the entries were
    made in the same frozen instant, so the queue's order ends on their random ids)."""
    clinic = Clinic.get()
    answers: dict[str, Any] = {}
    for text in SEARCHES:
        for statuses in (("waiting", "offered"), ("waiting", "offered", "cancelled")):
            page = list_entries(EntryQuery(search=text, statuses=statuses), clinic)
            answers[f"entries {text!r} {statuses}"] = (
                page.total,
                sorted((v.client.first_name, v.client.last_name) for v in page.items),
            )
        clients, total = list_clients(clinic, text)
        answers[f"clients {text!r}"] = (total, sorted((c.first_name, c.last_name) for c in clients))
    for provider, time in (("KIM", "9:00"), ("KIM", "15:00"), ("LINDQVIST", "10:00")):
        found = find_for_typed(TypedSlot(provider, "2026-11-23", time, "60"), clinic=clinic)
        answers[f"finder {provider} {time}"] = (
            found.candidates.total,
            found.candidates.exact,
            sorted((c.client_name, c.match_type, c.fails) for c in found.candidates.items),
        )
    for provider in ("KIM", "LINDQVIST"):
        for search in (None, "e"):
            page = list_entries(EntryQuery(provider=provider, search=search, count_cap=3), clinic)
            answers[f"provider {provider} {search}"] = (
                page.total,
                page.total_capped,
                sorted(v.client.first_name for v in page.items),
            )
    return answers


def test_search_and_provider_filter_answer_the_same_on_both_backends(
    tmp_path, fresh_pg_url, frozen
) -> None:
    results = {}
    for name, url in (("sqlite", str(tmp_path / "w.db")), ("postgres", fresh_pg_url)):
        _build(url)
        assert pg_indexes.has_trigram_index(database.obj) == (name == "postgres")
        results[name] = _answers()
        database.close()
    assert results["sqlite"] == results["postgres"]
    # the fixture means something: some searches find several, some none
    totals = [answer[0] for key, answer in results["sqlite"].items() if key.startswith("entries")]
    assert 0 in totals and max(totals) >= 4


@pytest.mark.parametrize("text", ["garcia", "emma chen", "0142", "zoe%garcia"])
def test_postgres_search_can_read_the_trigram_index(fresh_pg_url, frozen, text: str) -> None:
    """The LIKE the search writes (wildcards escaped) is one the GIN index answers: with
    sequential scans priced out, the plan uses it."""
    from waitlist_tui.domain.catalog.clients import search_condition
    from waitlist_tui.domain.store.models import Client

    _build(fresh_pg_url)
    query = Client.select(Client.id).where(search_condition(text))
    sql, params = query.sql()
    with database.atomic():
        database.execute_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params))
    assert pg_indexes.TRIGRAM_INDEX in plan, plan
    database.close()


# Per page: the provider or service it names (if any), the count, the page of entries with
# their clients and services, the page's preferred providers (and the offered rows' live
# offers: none here). The same on both backends: no per-row query hides behind a page.
PAGE_QUERIES = {
    "default": (EntryQuery(), 3),
    "provider": (EntryQuery(provider="KIM", count_cap=1000), 4),
    "service": (EntryQuery(service="PT-EVAL", statuses=("waiting",), count_cap=1000), 4),
    "search": (EntryQuery(search="garcia"), 4),  # + the matching clients' ids, read once
    "dense search": (EntryQuery(search="g", count_cap=1000), 3),  # walks the queue instead
}


@pytest.mark.parametrize("kind", list(PAGE_QUERIES))
def test_queue_pages_cost_a_fixed_number_of_queries(db, db_url, kind: str) -> None:
    _build(db_url)  # on the `db` fixture's emptied database
    query, expected = PAGE_QUERIES[kind]
    clinic = Clinic.get()
    with count_queries() as counter:
        page = list_entries(query, clinic)
    assert page.items
    assert counter.count == expected, (kind, isinstance(database.obj, SqliteDatabase))
    database.close()


def test_a_slots_overlap_reads_the_providers_booked_time_only(tmp_path, frozen) -> None:
    """SQLite took (provider, starts_at) for first_overlap and walked the provider's whole
    history up to the slot; v8's (provider, status, starts_at) reads the booked ones only."""
    from waitlist_tui.domain.fill.openings import first_overlap
    from waitlist_tui.domain.store.models import Appointment, Opening, Provider

    db = connect(str(tmp_path / "w.db"))
    apply_setup(demo_clinic(), STAFF)
    kim = Provider.get(Provider.code == "KIM")
    for model, status in ((Appointment, "booked"), (Opening, "open")):
        query = model.select().where(
            model.provider == kim,
            model.status == status,
            model.starts_at < frozen,
            model.ends_at > frozen,
        )
        sql, params = query.sql()
        plan = " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert f"{model._meta.table_name}_provider_id_status_starts_at" in plan, plan
        assert first_overlap(model, kim, status, frozen, frozen) is None
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_a_demo_build_keeps_the_search_index(backend: str, tmp_path, request, frozen) -> None:
    """The demo drops and recreates every table to bulk-load them: PostgreSQL's trigram index
    (no model's index) comes back with the others."""
    from waitlist_tui.demo import build as demo

    url = str(tmp_path / "w.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    db = connect(url)
    demo.build(entries=40, seed=7)
    assert pg_indexes.has_trigram_index(db) == (backend == "postgres")
    db.close()
