"""The import at bulk speed (issue 18), still all or nothing: every row checked before any is
written (all errors at once, with row numbers), a failure while writing rolls every batch
back, clients found once by name and phone or email (in the file and in the database), and
the stats rollups as a rebuild makes them. On both backends.

The `clinic` fixture freezes the clock at Fri 20 Nov 2026; rows leave their dates to the
defaults, so they hold on any date.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from peewee import IntegrityError

from tests.conftest import STAFF
from tests.domain.test_stats_rollups import assert_rollups_match_a_rebuild
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Unprocessable, ValidationError
from waitlist_tui.domain.store import deferred_indexes, rollups
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.maintenance import wipe
from waitlist_tui.domain.store.meta_tables import AuditEvent
from waitlist_tui.domain.store.models import Client, Entry, EntryProvider
from waitlist_tui.domain.waitlist import adding, exchange, importing

HEADER = "first_name,last_name,phone,email,service,preferred_providers,payment_type,notes"


def _row(i: int, **cells: str) -> str:
    base = {
        "first_name": f"Client{i}",
        "last_name": "Test",
        "phone": f"617-555-{i % 10_000:04d}",
        "email": f"c{i}@example.com",
        "service": "PT-EVAL" if i % 2 else "MASSAGE",
        "preferred_providers": "KIM" if i % 2 else "",
        "payment_type": "SELF_PAY",
        "notes": f"row {i}",
    }
    base.update(cells)
    return ",".join(base[k] for k in HEADER.split(","))


def _file(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _written() -> tuple[int, int, int, int]:
    return (
        Entry.select().count(),
        Client.select().count(),
        EntryProvider.select().count(),
        AuditEvent.select().count(),
    )


def _trigger_present() -> bool:
    name = rollups.ENTRY_INSERT
    if database.__class__.__name__ == "DatabaseProxy" and "Postgres" in type(database.obj).__name__:
        sql = "SELECT tgenabled FROM pg_trigger WHERE tgname = %s"
        row = database.execute_sql(sql, (name,)).fetchone()
        return row is not None and row[0] == "O"
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?"
    return database.execute_sql(sql, (name,)).fetchone() is not None


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 50 rows, so that a few thousand rows cross many of them."""
    monkeypatch.setattr(importing, "BATCH", 50)


@pytest.mark.usefixtures("clinic", "small_batches")
def test_bad_rows_anywhere_are_all_reported_and_nothing_is_written(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(3000)]
    rows[1] = _row(1, payment_type="BARTER")  # row 3 (the header is row 1)
    rows[-1] = _row(2999, service="NOPE")  # the last row, in the last batch
    before = _written()
    with pytest.raises(ValidationError) as info:
        exchange.import_file(_file(tmp_path / "in.csv", rows), STAFF)
    errors = info.value.data["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "payment_type"), (3001, "service")]
    assert "2 of 3000 rows are invalid; nothing was imported" in info.value.message
    assert _written() == before
    assert _trigger_present()


@pytest.mark.usefixtures("clinic", "small_batches")
def test_skip_invalid_writes_the_valid_rows(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(400)]
    rows[7] = _row(7, phone="12", email="")
    result = exchange.import_file(_file(tmp_path / "in.csv", rows), STAFF, skip_invalid=True)
    assert (result["added"], result["invalid"], result["rows"]) == (399, 1, 400)
    assert result["errors"][0]["row"] == 9
    assert Entry.select().count() == 399
    assert_rollups_match_a_rebuild()


@pytest.mark.usefixtures("clinic", "small_batches")
def test_a_failure_while_writing_rolls_every_batch_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importing.Writer.write_adds
    calls = {"n": 0}

    def failing(self: importing.Writer, adds: list[Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # four batches written, then the database refuses
            raise IntegrityError("UNIQUE constraint failed: entry.id")
        real(self, adds)

    monkeypatch.setattr(importing.Writer, "write_adds", failing)
    before = _written()
    kept = rollups_state()
    with pytest.raises(Unprocessable) as info:
        exchange.import_file(_file(tmp_path / "in.csv", [_row(i) for i in range(400)]), STAFF)
    assert info.value.message == (
        "the database refused rows 202-251: UNIQUE constraint failed: entry.id "
        "(nothing was imported)"
    )
    assert calls["n"] == 5
    assert _written() == before
    assert rollups_state() == kept
    assert _trigger_present()  # the per-row trigger is back (the rollback restored it)
    adding.create(  # and counts a desk's next entry again
        {
            "client": {"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0199"},
            "service": "PT-EVAL",
        },
        STAFF,
    )
    assert_rollups_match_a_rebuild()


def rollups_state() -> Any:
    from waitlist_tui.domain.store import rollup_rebuild

    return rollup_rebuild.state()


@pytest.mark.usefixtures("clinic", "small_batches")
def test_clients_are_found_once_by_name_and_phone_or_email(tmp_path: Path) -> None:
    adding.create(
        {
            "client": {"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0101"},
            "service": "PT-EVAL",
        },
        STAFF,
    )
    (ann,) = Client.select()
    rows = [_row(i) for i in range(120)]  # 120 new people
    rows += [
        _row(900, first_name="ann", last_name="LEE", phone="(617) 555-0101", email=""),
        _row(901, first_name="Bo", last_name="Wu", phone="617-555-0202", email="bo@x.org"),
        _row(902, first_name="Bo", last_name="Wu", phone="", email="bo@X.ORG"),  # by email
        _row(903, first_name="Cy", last_name="Wu", phone="617-555-0202", email=""),  # family
    ]
    rows += [_row(i) for i in range(120)]  # the same 120 again, in later batches
    result = exchange.import_file(_file(tmp_path / "in.csv", rows), STAFF)
    assert result["added"] == len(rows)
    assert Client.select().count() == 1 + 120 + 2  # Ann, the 120, Bo and Cy
    assert Entry.select().where(Entry.client == ann).count() == 2
    bo = Client.get(Client.first_name == "Bo")
    assert Entry.select().where(Entry.client == bo).count() == 2
    again = exchange.import_file(_file(tmp_path / "again.csv", rows[:5]), STAFF)
    assert again["added"] == 5 and Client.select().count() == 123  # found in the database
    creates = AuditEvent.select().where(AuditEvent.action == "client.create").count()
    assert creates == 123
    assert_rollups_match_a_rebuild()


@pytest.mark.usefixtures("clinic")
def test_a_withdrawn_consent_in_a_later_row_is_withdrawn(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "first_name,last_name,phone,service,payment_type,consent_sms\n"
        "Ann,Lee,617-555-0101,PT-EVAL,SELF_PAY,yes\n"
        "Ann,Lee,617-555-0101,PT-FU,SELF_PAY,no\n"
    )
    assert exchange.import_file(path, STAFF)["added"] == 2
    assert Client.select().count() == 1 and Client.get().consent_sms is False


@pytest.mark.usefixtures("clinic")
def test_every_entry_and_the_import_have_their_audit_rows(tmp_path: Path) -> None:
    result = exchange.import_file(_file(tmp_path / "in.csv", [_row(i) for i in range(30)]), STAFF)
    entries = AuditEvent.select().where(AuditEvent.action == "entry.create")
    assert sorted(a.object_id for a in entries) == sorted(result["ids"])
    one = entries.first()
    assert one.actor == STAFF and one.changes["notes"][1].startswith("row ")
    assert one.changes["client"][1] == str(Entry.get_by_id(one.object_id).client_id)
    (summary,) = AuditEvent.select().where(AuditEvent.object_type == "import")
    assert summary.changes["added"] == [None, 30] and summary.changes["file"] == [None, "in.csv"]


@pytest.mark.usefixtures("db")
def test_a_backup_restores_with_rollups_as_a_rebuild_makes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every status (booked ones with their history), across batches, on a fresh database."""
    demo.build(entries=300, seed=5)
    out = io.StringIO()
    exchange.export(out, "csv")
    backup = tmp_path / "backup.csv"
    backup.write_text(out.getvalue(), encoding="utf-8")
    with database.atomic():
        wipe()
    apply_setup(demo_clinic(), STAFF)
    monkeypatch.setattr(importing, "BATCH", 64)
    result = exchange.import_file(backup, STAFF)
    assert (result["added"], result["invalid"]) == (300, 0)
    assert_rollups_match_a_rebuild()
    again = exchange.import_file(backup, STAFF)  # idempotent: every row already here
    assert (again["added"], again["skipped"]) == (0, 300)


@pytest.mark.usefixtures("clinic")
def test_the_same_id_twice_in_a_file_adds_it_once(tmp_path: Path) -> None:
    exchange.import_file(_file(tmp_path / "one.csv", [_row(1)]), STAFF)
    out = io.StringIO()
    exchange.export(out, "csv")
    lines = out.getvalue().splitlines()
    with database.atomic():
        Entry.delete().execute()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n", encoding="utf-8")
    result = exchange.import_file(path, STAFF)
    assert (result["added"], result["skipped"]) == (1, 1)
    assert Entry.select().count() == 1


@pytest.mark.usefixtures("clinic")
def test_progress_is_told_for_both_passes(tmp_path: Path) -> None:
    told: list[tuple[str, int, int]] = []
    path = _file(tmp_path / "in.csv", [_row(i) for i in range(10)])
    exchange.import_file(path, STAFF, progress=lambda *a: told.append(a))
    assert told[-1] == ("write", 10, 10)
    size = path.stat().st_size
    assert ("check", size, size) in told


@pytest.mark.usefixtures("clinic")
def test_a_client_id_only_an_earlier_row_would_have_added(tmp_path: Path) -> None:
    """Row 2 adds client_id X (a new person); row 3 names X alone and follows it. Row 5
    names Y alone, but row 4 (Y, with details) is Ann, already here: Y was never added."""
    adding.create(
        {
            "client": {"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0101"},
            "service": "PT-EVAL",
        },
        STAFF,
    )
    x, y = "8d1f3c1e-5a0c-4a8e-9a53-000000000001", "8d1f3c1e-5a0c-4a8e-9a53-000000000002"
    path = tmp_path / "ids.csv"
    path.write_text(
        "client_id,first_name,last_name,phone,service,payment_type\n"
        f"{x},Bo,Wu,617-555-0202,PT-EVAL,SELF_PAY\n"
        f"{x},,,,PT-FU,SELF_PAY\n"
        f"{y},Ann,Lee,617-555-0101,PT-EVAL,SELF_PAY\n"
        f"{y},,,,PT-FU,SELF_PAY\n"
    )
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    assert [(e["row"], e["field"]) for e in info.value.data["errors"]] == [(5, "client_id")]
    assert Entry.select().count() == 1
    result = exchange.import_file(path, STAFF, skip_invalid=True)
    assert (result["added"], result["invalid"]) == (3, 1)
    assert Client.select().count() == 2  # Ann and Bo (who kept the id x)
    assert Client.get(Client.first_name == "Bo").id == uuid.UUID(x)


def _export_rows() -> list[dict[str, str]]:
    import csv

    out = io.StringIO()
    exchange.export(out, "csv")
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=exchange.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _update_state() -> tuple[Any, Any]:
    """Every entry's columns but updated_at, its providers; the entry.update/cancel audit
    rows' changes: what an update import leaves behind."""
    entries = sorted(
        tuple(v for k, v in row.items() if k != "updated_at")
        for row in Entry.select().order_by(Entry.id).dicts()
    )
    links = sorted((str(e), str(p)) for e, p in EntryProvider.select().tuples())
    logs = sorted(
        (a.object_id, a.action, sorted(a.changes.items()))
        for a in AuditEvent.select().where(
            AuditEvent.action.in_(["entry.update", "entry.cancelled"])
        )
    )
    return (entries, links), logs


@pytest.mark.usefixtures("clinic", "small_batches")
def test_an_update_import_in_bulk_writes_what_one_at_a_time_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--on-existing update: rows changing only an entry's own columns are written in bulk
    (waitlist/updating.py), the others one at a time; the result is the same as all of them
    one at a time (changes.change), audit rows included, and a bad row anywhere leaves
    every entry as it was."""
    exchange.import_file(_file(tmp_path / "in.csv", [_row(i) for i in range(160)]), STAFF)
    rows = _export_rows()
    for i, row in enumerate(rows):
        row["notes"] = f"changed {i}"
        if i % 3 == 0:
            row["priority"] = "1"
    rows[5]["status"] = "cancelled"  # one at a time: its offers would end
    moved = next(i for i, r in enumerate(rows) if r["service"] == "MASSAGE" and i > 5)
    rows[moved]["service"], rows[moved]["preferred_providers"] = "PT-EVAL", "KIM"  # singly
    rows[7]["preferred_time_start"], rows[7]["preferred_time_end"] = "09:00", "12:00"
    changed = _write_rows(tmp_path / "changed.csv", rows)

    bad = [dict(r) for r in rows]
    bad[120]["priority"] = "9"  # row 122, in the third batch
    before = _update_state()
    with pytest.raises(ValidationError) as info:
        exchange.import_file(_write_rows(tmp_path / "bad.csv", bad), STAFF, on_existing="update")
    assert [(e["row"], e["field"]) for e in info.value.data["errors"]] == [(122, "priority")]
    assert info.value.data["errors"][0]["message"].startswith("priority must be a whole number")
    assert _update_state() == before  # every batch rolled back

    with database.atomic() as txn:  # one at a time, then undone
        with monkeypatch.context() as m:
            m.setattr(importing.updating, "bulk_update", lambda rows, *a: rows)
            one_by_one = exchange.import_file(changed, STAFF, on_existing="update")
        expected = _update_state()
        txn.rollback()
    assert _update_state() == before
    singly: list[Any] = []
    real_change = exchange.changes.change
    monkeypatch.setattr(
        exchange.changes, "change", lambda *a: singly.append(a[0]) or real_change(*a)
    )
    result = exchange.import_file(changed, STAFF, on_existing="update")
    assert sorted(str(i) for i in singly) == sorted([rows[5]["id"], rows[moved]["id"]])
    assert (result["updated"], result["invalid"]) == (160, 0)
    assert {k: result[k] for k in ("added", "updated", "skipped")} == {
        k: one_by_one[k] for k in ("added", "updated", "skipped")
    }
    assert _update_state() == expected
    assert Entry.get_by_id(uuid.UUID(rows[0]["id"])).version == int(rows[0]["version"]) + 1
    assert_rollups_match_a_rebuild()


@pytest.mark.usefixtures("clinic", "small_batches")
def test_phones_parsed_in_worker_processes_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large file's phones are parsed ahead in worker processes (importing.PhoneAhead):
    the same errors with the same row numbers, the same rows written, as in one process."""
    from waitlist_tui.domain.catalog import clients

    rows = [_row(i, phone=f"617-555-{i:04d}") for i in range(300)]
    rows[10] = _row(10, phone="12", email="")  # row 12
    rows[250] = _row(250, phone="617-555-02x1")  # row 252, in a batch handed out ahead
    path = _file(tmp_path / "in.csv", rows)
    monkeypatch.setattr(clients, "_PHONES", {})
    with pytest.raises(ValidationError) as alone:
        exchange.import_file(path, STAFF)
    monkeypatch.setattr(clients, "_PHONES", {})
    monkeypatch.setattr(importing, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(importing.os, "cpu_count", lambda: 2)
    started: list[Any] = []
    real_start = importing.PhoneAhead.start
    monkeypatch.setattr(
        importing.PhoneAhead,
        "start",
        classmethod(lambda cls, *a: started.append(real_start(*a)) or started[-1]),
    )
    with pytest.raises(ValidationError) as ahead:
        exchange.import_file(path, STAFF)
    assert started and started[0] is not None
    assert ahead.value.data["errors"] == alone.value.data["errors"]
    assert [e["row"] for e in ahead.value.data["errors"]] == [12, 252]
    assert len(clients._PHONES) == 298  # told by the workers
    result = exchange.import_file(path, STAFF, skip_invalid=True)
    assert (result["added"], result["invalid"]) == (298, 2)
    assert Client.get(Client.first_name == "Client7").phone == "+16175550007"


@pytest.mark.usefixtures("clinic")
def test_keep_later_appointment_is_written_as_the_row_says(tmp_path: Path) -> None:
    """The bulk rows once left the column to its default (False) while the audit row said
    True: a row that asks to keep its later appointment keeps it."""
    path = tmp_path / "in.csv"
    path.write_text(
        "first_name,last_name,phone,email,service,keep_later_appointment\n"
        "Ann,Keep,,ann@example.com,MASSAGE,yes\n"
        "Bob,Release,,bob@example.com,MASSAGE,\n",
        encoding="utf-8",
    )
    result = exchange.import_file(path, STAFF)
    assert result["added"] == 2
    kept = {e.client.first_name: e.keep_later_appointment for e in Entry.select()}
    assert kept == {"Ann": True, "Bob": False}
    assert _trigger_present()


def _index_agrees() -> None:
    """SQLite's search index (store/sqlite_search.py) holds every client's text once, and its
    triggers are all there: an integrity check against the texts, and a search per name."""
    from waitlist_tui.domain.catalog.clients import list_clients
    from waitlist_tui.domain.store import sqlite_search
    from waitlist_tui.domain.store.models import Clinic

    assert sqlite_search.is_installed(database.obj)
    table = sqlite_search.FTS_TABLE
    database.execute_sql(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
    clinic = Clinic.get()
    for client in Client.select().limit(20):
        found = [c.id for c in list_clients(clinic, client.email or client.phone)[0]]
        assert client.id in found


@pytest.mark.usefixtures("clinic", "small_batches")
def test_the_search_index_takes_imported_clients_in_one_pass(tmp_path: Path) -> None:
    """On SQLite the import indexes its new clients in one statement at the end, its
    triggers off meanwhile; a refused import leaves index and triggers as they were."""
    from peewee import SqliteDatabase

    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite's own index (PostgreSQL's pg_trgm index keeps itself)")
    exchange.import_file(_file(tmp_path / "a.csv", [_row(i) for i in range(300)]), STAFF)
    _index_agrees()
    # the same clients again (found, not added), new ones, and an update of a found one
    again = [_row(i) for i in range(250, 400)]
    exchange.import_file(_file(tmp_path / "b.csv", again), STAFF)
    _index_agrees()
    bad = [_row(i) for i in range(400, 600)]
    bad[-1] = _row(599, service="NOPE")
    before = _written()
    with pytest.raises(ValidationError):
        exchange.import_file(_file(tmp_path / "c.csv", bad), STAFF)
    assert _written() == before
    _index_agrees()
    # an imported client's text changed afterwards: its trigger takes the old text out
    database.execute_sql(
        "UPDATE client SET search = 'zed afterimport' WHERE rowid = (SELECT MAX(rowid) FROM client)"
    )
    _index_agrees()
    assert [c.first_name for c in _found("afterimport")] == ["Client399"]


def _found(text: str) -> list[Any]:
    from waitlist_tui.domain.catalog.clients import list_clients
    from waitlist_tui.domain.store.models import Clinic

    return list(list_clients(Clinic.get(), text)[0])


@pytest.mark.usefixtures("clinic", "small_batches")
def test_an_import_that_outgrows_its_tables_builds_their_indexes_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """store/deferred_indexes: the rows and rollups as with the indexes kept row by row, and
    the indexes back afterwards; a refused write leaves them as they were too."""
    monkeypatch.setattr(importing, "DEFER_INDEXES_FROM", 1)
    # SQLite drops and rebuilds them; PostgreSQL keeps its own (an empty list here)
    kept = {
        t: [] if is_postgres() else deferred_indexes._indexes(t) for t in importing.DEFERRED_INDEXES
    }
    bad = [_row(i) for i in range(300)] + [_row(300, service="NOPE")]
    with pytest.raises(ValidationError):
        exchange.import_file(_file(tmp_path / "bad.csv", bad), STAFF)
    result = exchange.import_file(_file(tmp_path / "in.csv", bad[:-1]), STAFF)
    assert (result["added"], result["invalid"]) == (300, 0)
    if not is_postgres():
        assert {t: deferred_indexes._indexes(t) for t in kept} == kept
    assert _written()[0] == 300
    assert_rollups_match_a_rebuild()
    assert sorted(e.notes for e in Entry.select(Entry.notes)) == sorted(
        f"row {i}" for i in range(300)
    )
