"""Database opening: SQLite settings and file modes, schema versions and the migration path."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import threading
from typing import Any

import pytest
from peewee import Database, SqliteDatabase
from playhouse.migrate import SchemaMigrator, migrate

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.stats.report import stats
from waitlist_tui.domain.store import rollups, schema, sqlite_search
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    ACTIVE_QUEUE_INDEX,
    Appointment,
    CalendarSource,
    Client,
    Clinic,
    Entry,
    InboundMessage,
    JoinCode,
    OfferLink,
    OutboxMessage,
    Provider,
    StatsCount,
    StatsPoint,
)
from waitlist_tui.domain.waitlist import adding, changes, listing, reading


def test_sqlite_file_modes_and_pragmas(tmp_path, frozen) -> None:
    path = tmp_path / "new" / "dir" / "w.db"
    db = connect(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert isinstance(db, SqliteDatabase)
    assert db.pragma("journal_mode") == "wal"
    assert db.pragma("foreign_keys") == 1
    assert db.pragma("busy_timeout") >= 5000
    assert db._lock_type == "IMMEDIATE"
    assert schema.read_version(db) == schema.CURRENT_VERSION
    db.close()


def _without_outbox(db: Database) -> None:
    """What version 4 added, taken away: the outbox and the inbound replies."""
    db.drop_tables([OutboxMessage, InboundMessage])


def _without_rollups(db: Database) -> None:
    """What versions 3 and 4 added, taken away: the stats triggers and tables, the outbox."""
    _without_outbox(db)
    rollups.drop_triggers()
    db.drop_tables([StatsCount, StatsPoint])


def _build_v1(url: str) -> None:
    """The schema as version 1 of the app created it: no entry.original_appointment_at and no
    client.search; with a row in it."""
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    _without_rollups(db)
    sqlite_search.drop(db)  # v20's index of client.search (its triggers name the column)
    migrator = SchemaMigrator.from_database(db)
    if isinstance(db, SqliteDatabase):
        db.pragma("foreign_keys", 0)  # as a real migration does: rebuilds must not cascade
    with db.atomic():
        migrate(
            migrator.drop_column("entry", "original_appointment_at"),
            migrator.drop_column("client", "search"),
        )
        schema.set_meta(schema.VERSION_KEY, "1")
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_older_schema_is_migrated_keeping_rows(backend: str, tmp_path, request, frozen) -> None:
    url = (
        str(tmp_path / "v1.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    _build_v1(url)
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    columns = {c.name for c in db.get_columns("client")}
    assert "search" in columns
    assert "original_appointment_at" in {c.name for c in db.get_columns("entry")}
    client = Client.get()
    assert client.search == "jane doe jane.doe@example.com 16175550142"
    assert Entry.select().count() == 1
    db.close()


FILTERS: list[dict[str, str]] = [
    {},
    {"provider": "KIM"},
    {"since": "2026-11-02", "until": "2026-11-15"},
    {"since": "2026-09-01", "provider": "LINDQVIST"},
]


def _build_v2(url: str) -> dict[str, dict]:
    """A database as version 2 of the app left it: no stats rollups, no triggers; with a
    history in it (written straight, and through the desk). Returns its figures, computed
    the only way version 2 could: from the tables."""
    from tests.domain.test_stats import build_history

    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    clinic = Clinic.get()
    build_history(clinic)
    adding.create(entry_payload(), STAFF)
    _without_rollups(db)
    schema.set_meta(schema.VERSION_KEY, "2")
    assert not db.table_exists("stats_count")
    figures = {repr(f): stats(clinic, source="raw", **f).to_dict() for f in FILTERS}
    db.close()
    return figures


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v2_gets_stats_rollups_with_the_same_figures(
    backend: str, tmp_path, request, frozen
) -> None:
    """v2 -> v3 creates the rollups, fills them from the rows there and installs the
    triggers: the figures stay the same, and the next write is counted."""
    url = (
        str(tmp_path / "v2.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    before = _build_v2(url)
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    clinic = Clinic.get()
    for f in FILTERS:
        assert stats(clinic, **f).to_dict() == before[repr(f)], f
    adding.create(
        entry_payload(client={"first_name": "Ned", "last_name": "Next", "phone": "617-555-0199"}),
        STAFF,
    )
    after = stats(clinic).to_dict()
    assert after["total"] == before[repr({})]["total"] + 1
    assert after == stats(clinic, source="raw").to_dict()
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v3_gets_the_outbox_and_offers_then_queue_messages(
    backend: str, tmp_path, request, frozen
) -> None:
    """v3 -> v4 creates the outbox and the inbound replies, keeping every row; the next offer
    writes its message."""
    from tests.domain.fill_helpers import monday_opening
    from waitlist_tui.domain.fill import offers

    url = (
        str(tmp_path / "v3.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    _without_outbox(db)
    schema.set_meta(schema.VERSION_KEY, "3")
    assert not db.table_exists("outbox_message")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert db.table_exists("outbox_message") and db.table_exists("inbound_message")
    assert Entry.select().count() == 1 and OutboxMessage.select().count() == 0
    sent = offers.offer(monday_opening().id, STAFF)
    message = OutboxMessage.get()
    assert message.idempotency_key == f"offer:{sent[0].id}:v1" and message.status == "pending"
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v4_gets_the_active_queue_index(backend: str, tmp_path, request, frozen) -> None:
    """v4 -> v5 adds the partial index of active entries; the queue reads as before."""
    url = (
        str(tmp_path / "v4.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    db.execute_sql(f'DROP INDEX "{ACTIVE_QUEUE_INDEX}"')
    schema.set_meta(schema.VERSION_KEY, "4")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert ACTIVE_QUEUE_INDEX in {index.name for index in db.get_indexes("entry")}
    assert listing.list_entries(listing.EntryQuery()).total == 1
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v5_outbox_gets_its_attempt_records(backend: str, tmp_path, request, frozen) -> None:
    """v5 -> v6 adds outbox_message.sending_since and .interrupted; queued messages stay,
    with nothing in flight and nothing cut off."""
    from tests.domain.outbox_helpers import a_client, queue_messages

    url = (
        str(tmp_path / "v5.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    (key,) = queue_messages(Clinic.get(), a_client(Clinic.get()), 1)
    rollups.drop_triggers()
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.drop_column("outbox_message", "sending_since"),
        migrator.drop_column("outbox_message", "interrupted"),
    )
    rollups.install_triggers()
    schema.set_meta(schema.VERSION_KEY, "5")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    columns = {c.name for c in db.get_columns("outbox_message")}
    assert {"sending_since", "interrupted"} <= columns
    message = OutboxMessage.get(OutboxMessage.idempotency_key == key)
    assert (message.status, message.sending_since, message.interrupted) == ("pending", None, 0)
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v6_appointments_take_calendar_bookings(backend: str, tmp_path, request, frozen) -> None:
    """v6 -> v7: calendar sources, and appointments that may lack a client and a service
    (SQLite rebuilds the table): the rows there stay, with their indexes and triggers."""
    from tests.domain.fill_helpers import book_appointment

    url = (
        str(tmp_path / "v6.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    booked = book_appointment()
    rollups.drop_triggers()
    db.execute_sql('DROP INDEX IF EXISTS "appointment_calendar_source_id_calendar_key"')
    if backend == "postgres":
        migrator = SchemaMigrator.from_database(db)
        migrate(
            *(
                migrator.drop_column("appointment", name)
                for name in ("calendar_source_id", "calendar_key", "summary", "away")
            ),
            migrator.add_not_null("appointment", "client_id"),
            migrator.add_not_null("appointment", "service_id"),
        )
    else:
        _as_v6_sqlite_appointments(db)
    db.drop_tables([CalendarSource])
    rollups.install_triggers()
    schema.set_meta(schema.VERSION_KEY, "6")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    kept = Appointment.get_by_id(booked.id)
    assert (kept.client_id, kept.calendar_source_id, kept.away) == (booked.client_id, None, False)
    nullable = {c.name: c.null for c in db.get_columns("appointment")}
    assert nullable["client_id"] and nullable["service_id"]
    indexes = {index.name for index in db.get_indexes("appointment")}
    assert {
        "appointment_provider_id_starts_at",
        "appointment_calendar_source_id_calendar_key",
    } <= indexes
    assert db.table_exists("calendar_source")
    db.close()


def _as_v6_sqlite_appointments(db) -> None:
    """SQLite cannot drop a column that a foreign key names: the appointment table is rebuilt
    as v6 created it (today's DDL without the v7 columns, client and service NOT NULL)."""
    ddl = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'appointment'"
    ).fetchone()[0]
    for gone in (
        ', "calendar_source_id" TEXT',
        ', "calendar_key" VARCHAR(600)',
        ', "summary" VARCHAR(200)',
        ', "away" INTEGER NOT NULL',
        ', FOREIGN KEY ("calendar_source_id") REFERENCES "calendar_source" ("id") ON DELETE SET NULL',
    ):
        assert gone in ddl, gone
        ddl = ddl.replace(gone, "")
    ddl = ddl.replace('"client_id" TEXT,', '"client_id" TEXT NOT NULL,')
    ddl = ddl.replace('"service_id" TEXT,', '"service_id" TEXT NOT NULL,')
    columns = ", ".join(
        c.name
        for c in db.get_columns("appointment")
        if c.name not in {"calendar_source_id", "calendar_key", "summary", "away"}
    )
    indexes = [
        row[0]
        for row in db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'appointment' "
            "AND sql IS NOT NULL"
        )
    ]
    db.pragma("foreign_keys", 0)
    with db.atomic():
        db.execute_sql("ALTER TABLE appointment RENAME TO appointment_v7")
        db.execute_sql(ddl)
        db.execute_sql(f"INSERT INTO appointment ({columns}) SELECT {columns} FROM appointment_v7")
        db.execute_sql("DROP TABLE appointment_v7")
        for sql in indexes:
            db.execute_sql(sql)
    db.pragma("foreign_keys", 1)


def test_newer_schema_is_refused(tmp_path, frozen) -> None:
    url = str(tmp_path / "future.db")
    connect(url)
    schema.set_meta(schema.VERSION_KEY, str(schema.CURRENT_VERSION + 1))
    database.close()
    with pytest.raises(schema.SchemaError, match="upgrade waitlist-tui"):
        connect(url)


def test_two_desks_editing_at_once_never_lose_an_update(db, clinic, db_url) -> None:
    """Both read version 1; exactly one write lands, the other gets a 4090."""
    view = adding.create(entry_payload(), STAFF)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def desk(name: str) -> None:
        with database.connection_context():
            barrier.wait()
            try:
                changes.update(view.id, {"notes": name, "version": 1}, name)
                outcomes.append("ok")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=desk, args=(f"desk-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    final = reading.get(view.id)
    assert final.version == 2 and final.notes == final.updated_by


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v7_calendar_sources_get_their_block_hashes(
    backend: str, tmp_path, request, frozen
) -> None:
    """v7 -> v8: a calendar source gains `blocks` (empty: its next sync reads it whole)."""
    url = (
        str(tmp_path / "v7.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    kim = Provider.get(Provider.code == "KIM")
    source = CalendarSource.create_by(
        STAFF,
        dt.datetime.now(dt.UTC),
        provider=kim.id,
        source="kim.ics",
        label="kim.ics",
        spec="{}",
    )
    migrate(SchemaMigrator.from_database(db).drop_column("calendar_source", "blocks"))
    schema.set_meta(schema.VERSION_KEY, "7")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert CalendarSource.get_by_id(source.id).blocks is None
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v8_gets_the_audit_trail_indexed_by_time(backend: str, tmp_path, request, frozen) -> None:
    """v7/v8 -> v9 adds the audit trail's index on `at` (it needs nothing of v8: from v7 too);
    the rows stay and `audit list` over a period reads them."""
    from waitlist_tui.domain.privacy import trail

    url = (
        str(tmp_path / "v8.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    db.execute_sql('DROP INDEX "audit_event_at"')
    schema.set_meta(schema.VERSION_KEY, "7")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert "audit_event_at" in {index.name for index in db.get_indexes("audit_event")}
    today = str(frozen.in_timezone("America/New_York").date())
    rows = trail.list_events(start=today, end=today)
    assert [r.action for r in rows] == ["entry.create", "client.create", "clinic.setup"]
    db.close()


V8_OVERLAP_INDEXES = {  # with ends_at since v14
    "appointment": "appointment_provider_id_status_starts_at_ends_at",
    "opening": "opening_provider_id_status_starts_at_ends_at",
}


def _as_v7(db: Database) -> None:
    """What v10 added taken away (and the version set back to 7): the overlap indexes, and
    PostgreSQL's trigram index and pg_trgm."""
    from waitlist_tui.domain.store import pg_indexes

    for name in V8_OVERLAP_INDEXES.values():
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    if not isinstance(db, SqliteDatabase):
        db.execute_sql(f'DROP INDEX IF EXISTS "{pg_indexes.TRIGRAM_INDEX}"')
        db.execute_sql(f"DROP EXTENSION IF EXISTS {pg_indexes.TRIGRAM_EXTENSION}")
    schema.set_meta(schema.VERSION_KEY, "7")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v7_gets_the_search_and_overlap_indexes(backend: str, tmp_path, request, frozen) -> None:
    """v7 -> v10: PostgreSQL gets pg_trgm and a GIN trigram index on client.search (SQLite's
    client indexes stay as they were); both get the overlap indexes. The rows stay and search
    finds them."""
    from waitlist_tui.domain.store import pg_indexes

    url = (
        str(tmp_path / "v7.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    sqlite_indexes = {index.name for index in db.get_indexes("client")}
    _as_v7(db)
    assert not pg_indexes.has_trigram_index(db)
    for table, name in V8_OVERLAP_INDEXES.items():
        assert name not in {index.name for index in db.get_indexes(table)}
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    for table, name in V8_OVERLAP_INDEXES.items():
        assert name in {index.name for index in db.get_indexes(table)}
    assert pg_indexes.has_trigram_index(db) == (backend == "postgres")
    if backend == "sqlite":
        assert {index.name for index in db.get_indexes("client")} == sqlite_indexes
    else:
        ddl = db.execute_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (pg_indexes.TRIGRAM_INDEX,)
        ).fetchone()[0]
        assert "USING gin (search gin_trgm_ops)" in ddl
    assert listing.list_entries(listing.EntryQuery(search="doe 0142")).total == 1
    db.close()


def test_v10_without_pg_trgm_still_migrates_and_searches(fresh_pg_url, monkeypatch, frozen) -> None:
    """A server without pg_trgm (here: asked for an extension it does not have): v10 goes on
    without the index, and search reads the table as before."""
    from waitlist_tui.domain.store import pg_indexes

    db = connect(fresh_pg_url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(), STAFF)
    _as_v7(db)
    db.close()
    monkeypatch.setattr(pg_indexes, "TRIGRAM_EXTENSION", "no_such_extension")
    db = connect(fresh_pg_url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert not pg_indexes.has_trigram_index(db)
    assert listing.list_entries(listing.EntryQuery(search="jane.doe")).total == 1
    db.close()


def test_a_role_that_may_not_create_pg_trgm_still_gets_a_database(fresh_pg_url, frozen) -> None:
    """The extension is there but this role may not create it (no CREATE on the database):
    the failed CREATE EXTENSION is rolled back to its savepoint and the schema is built."""
    import uuid
    from urllib.parse import urlparse, urlunparse

    import psycopg2

    from waitlist_tui.domain.store import pg_indexes

    role = f"waitlist_nopriv_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(fresh_pg_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
    try:
        parsed = urlparse(fresh_pg_url)
        netloc = f"{role}@{parsed.hostname}:{parsed.port or 5432}"
        db = connect(urlunparse(parsed._replace(netloc=netloc)))
        available = "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        assert db.execute_sql(available).fetchone(), "the server has pg_trgm: CREATE was refused"
        assert schema.read_version(db) == schema.CURRENT_VERSION
        assert not pg_indexes.has_trigram_index(db)
        apply_setup(demo_clinic(), STAFF)
        adding.create(entry_payload(), STAFF)
        assert listing.list_entries(listing.EntryQuery(search="doe")).total == 1
        db.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            cur.execute(f'DROP OWNED BY "{role}"')
        admin.close()
        drop = psycopg2.connect(fresh_pg_url.rsplit("/", 1)[0] + "/postgres")
        drop.autocommit = True
        with drop.cursor() as cur:
            # the test database still holds grants to the role: drop it with the database
            cur.execute(f'DROP DATABASE IF EXISTS "{urlparse(fresh_pg_url).path[1:]}" WITH (FORCE)')
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        drop.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v10_staff_rows_become_accounts(backend: str, tmp_path, request, frozen) -> None:
    """v10 -> v11: a staff row gains its role, password hash, disabled and lock columns; an
    old row keeps its name and has no password."""
    from waitlist_tui.domain.store.meta_tables import Staff

    url = (
        str(tmp_path / "v8.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    Staff.create(name="ana", created_at=dt.datetime.now(dt.UTC))
    dropper = SchemaMigrator.from_database(db)
    migrate(
        *(
            dropper.drop_column("staff", column)
            for column in (
                "role",
                "password_hash",
                "disabled_at",
                "failed_logins",
                "locked_until",
                "last_login_at",
                "updated_at",
            )
        )
    )
    schema.set_meta(schema.VERSION_KEY, "10")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    row = Staff.get(Staff.name == "ana")
    assert (row.role, row.password_hash, row.failed_logins, row.disabled_at) == (
        "desk",
        None,
        0,
        None,
    )
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v12_outbox_gets_delivery_receipts_and_replies_their_provider_id(
    backend: str, tmp_path, request, frozen
) -> None:
    """v12 -> v13: outbox rows gain the delivery status columns (empty for old rows), replies
    the provider's id, unique: the same webhook twice cannot be recorded twice."""
    from peewee import IntegrityError

    url = (
        str(tmp_path / "v12.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    clinic = apply_setup(demo_clinic(), STAFF)
    dropper = SchemaMigrator.from_database(db)
    migrate(
        dropper.drop_index("outbox_message", "outbox_message_provider_message_id"),
        dropper.drop_index("inbound_message", "inbound_message_provider_message_id"),
        *(
            dropper.drop_column("outbox_message", column)
            for column in ("delivery_status", "delivery_error", "delivery_at")
        ),
        dropper.drop_column("inbound_message", "provider_message_id"),
    )
    schema.set_meta(schema.VERSION_KEY, "12")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    columns = {c.name for c in db.get_columns("outbox_message")}
    assert {"delivery_status", "delivery_error", "delivery_at"} <= columns
    now = dt.datetime.now(dt.UTC)
    clinic = Clinic.get()
    InboundMessage.create(
        clinic=clinic,
        sender="+1",
        text="YES",
        outcome="note",
        received_at=now,
        provider_message_id="SM1",
    )
    with pytest.raises(IntegrityError), database.atomic():
        InboundMessage.create(
            clinic=clinic,
            sender="+1",
            text="YES",
            outcome="note",
            received_at=now,
            provider_message_id="SM1",
        )
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v11_entries_gain_the_self_joined_mark(backend: str, tmp_path, request, frozen) -> None:
    """v11 -> v12: an entry gains self_joined (False for the old ones) and join_code comes."""
    url = (
        str(tmp_path / "v11.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    entry = adding.create(entry_payload(), STAFF)
    rollups.drop_triggers()
    migrate(SchemaMigrator.from_database(db).drop_column("entry", "self_joined"))
    rollups.install_triggers()
    db.drop_tables([JoinCode])
    schema.set_meta(schema.VERSION_KEY, "11")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert reading.get(entry.id).self_joined is False
    assert db.table_exists("join_code")
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v15_gains_the_offer_links_table(backend: str, tmp_path, request, frozen) -> None:
    """v15 -> v16: offer_link comes (offer links' hashed tokens); offers stay as they were."""
    url = (
        str(tmp_path / "v15.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    db.drop_tables([OfferLink])
    schema.set_meta(schema.VERSION_KEY, "15")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert db.table_exists("offer_link")
    assert {c.name for c in db.get_columns("offer_link")} >= {"offer_id", "token_hash", "used_at"}
    db.close()


def _demand_columns(entry_id) -> tuple[list[str], bool]:
    row = Entry.select(Entry.provider_ids, Entry.ever_offered).where(Entry.id == entry_id).get()
    codes = {str(p.id).replace("-", ""): p.code for p in Provider.select()}
    ids = [] if row.provider_ids is None else row.provider_ids.replace("-", "").split(",")
    return [codes[i] for i in ids], bool(row.ever_offered)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v18_gains_the_demand_columns(backend: str, tmp_path, request, frozen) -> None:
    """v18 -> v19: entries gain provider_ids and ever_offered, filled for the old rows (the
    preferred providers in id order, any offer), in `stats demand`'s indexes; the triggers
    keep them from then on (a change of providers, an offer)."""
    from waitlist_tui.domain.fill import offers
    from waitlist_tui.domain.fill.openings import add_opening
    from waitlist_tui.domain.store.models import DEMAND_INDEX, ENDED_INDEX, Offer, Opening

    url = (
        str(tmp_path / "v18.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    both = adding.create(entry_payload(preferred_providers=["PATEL", "KIM"]), STAFF)
    other = adding.create(entry_payload(preferred_providers=[], preferred_days=[]), STAFF)
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    assert len(offers.offer(opening.id, STAFF)) >= 1
    rollups.drop_triggers()
    dropper = SchemaMigrator.from_database(db)
    migrate(dropper.drop_index("entry", DEMAND_INDEX), dropper.drop_index("entry", ENDED_INDEX))
    migrate(
        dropper.drop_column("entry", "provider_ids"), dropper.drop_column("entry", "ever_offered")
    )
    schema.set_meta(schema.VERSION_KEY, "18")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert {"provider_ids", "ever_offered"} <= {c.name for c in db.get_columns("entry")}
    assert {DEMAND_INDEX, ENDED_INDEX} <= {i.name for i in db.get_indexes("entry")}
    in_order = sorted(Provider.select().where(Provider.code.in_(["KIM", "PATEL"])), key=str_id)
    sent = {o.entry_id for o in Offer.select()}
    assert sent
    assert _demand_columns(both.id) == ([p.code for p in in_order], both.id in sent)
    assert _demand_columns(other.id) == ([], other.id in sent)
    changes.change(both.id, {"preferred_providers": ["KIM"]}, STAFF)
    assert _demand_columns(both.id) == (["KIM"], both.id in sent)
    Opening.delete().where(Opening.id == opening.id).execute()  # its offers go with it
    assert _demand_columns(both.id) == (["KIM"], False)
    assert _demand_columns(other.id) == ([], False)
    db.close()


def str_id(provider: Provider) -> str:
    return str(provider.id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v19_gets_the_sqlite_search_index(backend: str, tmp_path, request, frozen) -> None:
    """v19 -> v20: SQLite gains the trigram index of client.search, built for the clients
    already there, and its triggers (a client added after the upgrade is found through it);
    PostgreSQL keeps its pg_trgm index and nothing else changes."""
    from waitlist_tui.domain.store import sqlite_search

    url = (
        str(tmp_path / "v19.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    before = adding.create(entry_payload(), STAFF)
    sqlite_search.drop(db)
    assert not sqlite_search.is_installed(db)
    schema.set_meta(schema.VERSION_KEY, "19")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert sqlite_search.is_installed(db) == isinstance(db, SqliteDatabase)
    after = adding.create(
        entry_payload(
            client={"first_name": "Quincy", "last_name": "Zephyr", "phone": "617-555-0111"}
        ),
        STAFF,
    )
    last_name = reading.get(before.id).client.last_name
    for text, entry in ((last_name, before), ("zephyr", after)):
        page = listing.list_entries(listing.EntryQuery(search=text))
        assert [v.id for v in page.items] == [entry.id]
    if isinstance(db, SqliteDatabase):
        hits = db.execute_sql(
            f"SELECT COUNT(*) FROM {sqlite_search.FTS_TABLE} WHERE {sqlite_search.FTS_TABLE} "
            "MATCH ?",
            (f'"{last_name.lower()}"',),
        ).fetchone()
        assert hits == (1,)
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v20_gets_the_stats_point_key_index(backend: str, tmp_path, request, frozen) -> None:
    """v20 -> v21: stats_point_key replaces stats_point_time, and the period figures read
    through it are the tables' own."""
    url, db, clinic = _clinic_with_history(backend, tmp_path, request, "v20")
    migrate(SchemaMigrator.from_database(db).drop_index("stats_point", "stats_point_key"))
    db.execute_sql(
        "CREATE INDEX stats_point_time ON stats_point "
        "(kind, clinic_id, created_at, service_id, provider_id, bin) WHERE bin IS NOT NULL"
    )
    db = _reopened_from(url, db, "20")
    names = {i.name for i in db.get_indexes("stats_point")}
    assert "stats_point_key" in names and "stats_point_time" not in names
    _assert_stats_are_the_tables(clinic)
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v21_gets_the_demand_indexes_in_group_order(
    backend: str, tmp_path, request, frozen
) -> None:
    """v21 -> v22: `stats demand`'s two indexes are made anew in the order it groups on
    (the pattern's columns first, so SQLite groups as it reads), and the report is the one
    the old indexes gave."""
    from waitlist_tui.domain.stats.demand import demand
    from waitlist_tui.domain.store.models import DEMAND_INDEX, ENDED_INDEX

    url = (
        str(tmp_path / "v21.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    for i in range(3):
        client = {"first_name": f"Ann{'abc'[i]}", "last_name": "Lee", "phone": f"617-555-010{i}"}
        entry = adding.create(entry_payload(client=client, preferred_days=["MONDAY"]), STAFF)
        if i == 0:
            changes.cancel(entry.id, STAFF, reason="went elsewhere")
    fresh = {i.name: i.columns for i in db.get_indexes("entry")}
    before = demand().to_dict()
    for name in (DEMAND_INDEX, ENDED_INDEX):  # v21's: by date, the providers later
        db.execute_sql(f'DROP INDEX "{name}"')
    db.execute_sql(
        f'CREATE INDEX "{DEMAND_INDEX}" ON entry (clinic_id, service_id, preferred_days, '
        "preferred_time_slots, preferred_time_start, preferred_time_end, date_range_start, "
        "date_range_end, created_at, provider_ids, id, status) WHERE status = 'waiting'"
    )
    db.execute_sql(
        f'CREATE INDEX "{ENDED_INDEX}" ON entry (clinic_id, status_changed_at, service_id, '
        "preferred_days, preferred_time_slots, ever_offered, provider_ids, id, status) "
        "WHERE status IN ('cancelled', 'expired')"
    )
    schema.set_meta(schema.VERSION_KEY, "21")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    after = {i.name: i.columns for i in db.get_indexes("entry")}
    for name in (DEMAND_INDEX, ENDED_INDEX):
        assert after[name] == fresh[name]
    assert after[DEMAND_INDEX][6] == "provider_ids"
    assert after[ENDED_INDEX][1] == "service_id"
    assert demand().to_dict() == before
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v23_gets_the_stats_period_index(backend: str, tmp_path, request, frozen) -> None:
    """v23 -> v24: PostgreSQL gains stats_point_period (SQLite nothing), and the period
    figures grouped through it are the tables' own."""
    url, db, clinic = _clinic_with_history(backend, tmp_path, request, "v23")
    db.execute_sql("DROP INDEX IF EXISTS stats_point_period")
    db = _reopened_from(url, db, "23")
    names = {i.name for i in db.get_indexes("stats_point")}
    assert ("stats_point_period" in names) == (backend == "postgres")
    _assert_stats_are_the_tables(clinic)
    db.close()


def _clinic_with_history(backend: str, tmp_path, request, name: str) -> tuple[str, Any, Clinic]:
    """A database of the current schema holding the demo clinic and a stats history."""
    from tests.domain.test_stats import build_history

    url = (
        str(tmp_path / f"{name}.db")
        if backend == "sqlite"
        else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    clinic = Clinic.get()
    build_history(clinic)
    return url, db, clinic


def _reopened_from(url: str, db: Any, version: str) -> Any:
    """The database marked as of `version`, opened again: migrated to the current one."""
    schema.set_meta(schema.VERSION_KEY, version)
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    return db


def _assert_stats_are_the_tables(clinic: Clinic) -> None:
    for f in FILTERS:
        assert stats(clinic, **f).to_dict() == stats(clinic, source="raw", **f).to_dict(), f


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v17_gains_the_knock_on_columns(backend: str, tmp_path, request, frozen) -> None:
    """v17 -> v18: entries gain keep_later_appointment (False for the old ones), openings
    the booking that freed them and their chain (empty for the old ones)."""
    from waitlist_tui.domain.store.models import Opening

    url = (
        str(tmp_path / "v17.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    entry = adding.create(entry_payload(), STAFF)
    rollups.drop_triggers()
    dropper = SchemaMigrator.from_database(db)
    migrate(dropper.drop_index("opening", "opening_chain"))
    migrate(dropper.drop_index("entry", "entry_waiting_demand"))
    migrate(dropper.drop_index("entry", "entry_ended_demand"))
    migrate(dropper.drop_column("entry", "keep_later_appointment"))
    if isinstance(db, SqliteDatabase):  # its DROP COLUMN refuses a foreign key's column
        kept = ", ".join(
            c.name for c in db.get_columns("opening") if c.name not in ("freed_by_id", "chain")
        )
        ddl = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'opening'").fetchone()
        ddl = re.sub(r', "freed_by_id" [A-Z]+(\([0-9]+\))?', "", ddl[0])
        ddl = re.sub(r', "chain" [A-Z]+(\([0-9]+\))?', "", ddl)
        ddl = re.sub(r', FOREIGN KEY \("freed_by_id"\)[^,)]*\([^)]*\)[A-Z ]*', "", ddl)
        db.pragma("foreign_keys", 0)
        db.execute_sql(ddl.replace('"opening"', '"opening_old"', 1))
        db.execute_sql(f"INSERT INTO opening_old SELECT {kept} FROM opening")
        db.execute_sql("DROP TABLE opening")
        db.execute_sql("ALTER TABLE opening_old RENAME TO opening")
        db.pragma("foreign_keys", 1)
    else:
        migrate(
            dropper.drop_column("opening", "freed_by_id"), dropper.drop_column("opening", "chain")
        )
    rollups.install_triggers()
    assert not {"freed_by_id", "chain"} & {c.name for c in db.get_columns("opening")}
    schema.set_meta(schema.VERSION_KEY, "17")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert reading.get(entry.id).keep_later_appointment is False
    assert {"freed_by_id", "chain"} <= {c.name for c in db.get_columns("opening")}
    assert Opening.select().where(Opening.chain.is_null(False)).count() == 0
    assert {"entry_waiting_demand", "entry_ended_demand"} <= {
        i.name for i in db.get_indexes("entry")
    }
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v16_gets_the_fairness_record_table(backend: str, tmp_path, request, frozen) -> None:
    """v16 -> v17: offer_ranking (the fairness record and the desk's skips) is created; an
    offer made after the upgrade writes its record there."""
    from waitlist_tui.domain.fill import offers
    from waitlist_tui.domain.fill.openings import add_opening
    from waitlist_tui.domain.store.models import OfferRanking

    url = (
        str(tmp_path / "v16.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    adding.create(entry_payload(preferred_providers=[], preferred_days=[]), STAFF)
    db.drop_tables([OfferRanking])
    schema.set_meta(schema.VERSION_KEY, "16")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert db.table_exists("offer_ranking")
    opening = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    assert len(offers.offer(opening.id, STAFF)) == 1
    assert OfferRanking.select().count() == 1
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v13_gains_shared_sessions_rate_limits_and_join_consents(
    backend: str, tmp_path, request, frozen
) -> None:
    """v13 -> v15: web_session and rate_hit come (the served desk's sessions and limits in
    the database); a /join code gains the consents it adds once confirmed (False for old)."""
    from waitlist_tui.domain.access.sessions import SessionBook
    from waitlist_tui.domain.store.models import RateHit, WebSession

    url = (
        str(tmp_path / "v13.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    entry = adding.create(entry_payload(), STAFF)
    now = dt.datetime.now(dt.UTC)
    JoinCode.create(entry=entry.id, phone="+1", code_hash="x", sent_at=now, expires_at=now)
    db.drop_tables([WebSession, RateHit])
    migrate(
        *(
            SchemaMigrator.from_database(db).drop_column("join_code", column)
            for column in ("adds_consent_sms", "adds_consent_email")
        )
    )
    schema.set_meta(schema.VERSION_KEY, "13")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    assert JoinCode.get().adds_consent_sms is False
    assert db.table_exists("web_session") and db.table_exists("rate_hit")
    book = SessionBook()
    assert book.get(book.start("ana", "desk").token) is not None
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
def test_v13_overlap_indexes_gain_ends_at(backend: str, tmp_path, request, frozen) -> None:
    """v13 -> v14: the (provider, status, starts_at) indexes of appointments and openings
    give way to ones that also hold ends_at, so a range of busy time reads no table rows;
    free slots come out as before."""
    from waitlist_tui.domain.fill.availability import find_matching_slots

    url = (
        str(tmp_path / "v13.db") if backend == "sqlite" else request.getfixturevalue("fresh_pg_url")
    )
    db = connect(url)
    apply_setup(demo_clinic(), STAFF)
    entry = Entry.get_by_id(adding.create(entry_payload(), STAFF).id)
    today = frozen.in_timezone("America/New_York").date()
    slots = find_matching_slots(entry, today, today + dt.timedelta(days=14), limit=50)
    assert slots
    for table, name in V8_OVERLAP_INDEXES.items():
        db.execute_sql(f'DROP INDEX "{name}"')
        db.execute_sql(
            f'CREATE INDEX "{table}_provider_id_status_starts_at" '
            f'ON "{table}" ("provider_id", "status", "starts_at")'
        )
    schema.set_meta(schema.VERSION_KEY, "13")
    db.close()
    db = connect(url)
    assert schema.read_version(db) == schema.CURRENT_VERSION
    for table, name in V8_OVERLAP_INDEXES.items():
        names = {index.name for index in db.get_indexes(table)}
        assert name in names and f"{table}_provider_id_status_starts_at" not in names
    assert find_matching_slots(entry, today, today + dt.timedelta(days=14), limit=50) == slots
    db.close()
