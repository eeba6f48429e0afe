"""Nothing lost between export and import (issue 14): an export carries every field a desk or
the ranking depends on, so export -> import into an empty database -> export is the same
file; importing a file twice is importing it once; the kept fields are checked on the way in.
On both backends."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STAFF, entry_payload
from tests.domain.fill_helpers import add_entry
from tests.domain.hostile_helpers import row_counts
from tests.domain.test_stats_rollups import assert_rollups_match_a_rebuild
from waitlist_tui.demo import build as demo
from waitlist_tui.domain import vocab
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.maintenance import wipe
from waitlist_tui.domain.store.models import Client, Entry
from waitlist_tui.domain.waitlist import exchange, listing, reading

# Ids of the clinic's set-up: a new database set up from the same file gives them anew.
CATALOG_IDS = ("clinic_id",)


def _export(fmt: str) -> str:
    out = io.StringIO()
    exchange.export(out, fmt)
    return out.getvalue()


def _comparable(text: str, fmt: str) -> dict[str, dict[str, Any]]:
    """Rows by entry id; the set-up's own ids (clinic, service, provider) left out."""
    if fmt == "csv":
        return {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    rows = {}
    for row in json.loads(text):
        row = {k: v for k, v in row.items() if k not in CATALOG_IDS}
        row["service"] = {k: v for k, v in row["service"].items() if k != "id"}
        row["preferred_provider_details"] = [
            {k: v for k, v in p.items() if k != "id"} for p in row["preferred_provider_details"]
        ]
        rows[row["id"]] = row
    return rows


def _empty_database_with_the_setup() -> None:
    with database.atomic():
        wipe()
    apply_setup(demo_clinic(), STAFF)
    assert Entry.select().count() == 0 and Client.select().count() == 0


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("seed", [3, 8])
def test_export_import_export_is_the_same_file(db, tmp_path: Path, fmt: str, seed: int) -> None:
    demo.build(entries=90, seed=seed)
    first = _export(fmt)
    offered = {str(e.id) for e in Entry.select().where(Entry.status == vocab.OFFERED)}
    path = tmp_path / f"entries.{fmt}"
    path.write_text(first, encoding="utf-8")
    _empty_database_with_the_setup()

    result = exchange.import_file(path, STAFF)
    assert (result["added"], result["skipped"], result["invalid"]) == (90, 0, 0)
    again = _export(fmt)
    before, after = _comparable(first, fmt), _comparable(again, fmt)
    assert set(before) == set(after)
    for entry_id, row in before.items():
        if entry_id in offered:  # its offer did not travel: it waits again, ranked as before
            assert after[entry_id]["status"] == vocab.WAITING
            assert after[entry_id]["created_at"] == row["created_at"]
            continue
        assert after[entry_id] == row
    assert_rollups_match_a_rebuild()

    counts = row_counts()
    twice = exchange.import_file(path, STAFF)  # importing it again is importing it once
    assert (twice["added"], twice["updated"], twice["skipped"]) == (0, 0, 90)
    assert row_counts() == counts
    assert _export(fmt) == again


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_queue_keeps_its_order_and_waited_days(clinic, tmp_path, frozen, fmt: str) -> None:
    from tests.timetravel import move_to

    first = add_entry("Early", priority=3)
    move_to(frozen.add(days=9, microseconds=1))  # same priority: the longer wait ranks first
    add_entry("Late", priority=3)
    order = [v.id for v in listing.list_entries(listing.EntryQuery()).items]
    waited = reading.get(first.id).waited_days(frozen.add(days=9))
    path = tmp_path / f"q.{fmt}"
    path.write_text(_export(fmt))
    _empty_database_with_the_setup()
    exchange.import_file(path, STAFF)
    assert [v.id for v in listing.list_entries(listing.EntryQuery()).items] == order
    assert reading.get(first.id).waited_days(frozen.add(days=9)) == waited == 9
    assert reading.get(first.id).created_at == first.created_at  # to the microsecond


def test_on_existing_update_changes_the_editable_fields_once(clinic, tmp_path: Path) -> None:
    view = add_entry("Ann", notes="old", priority=3)
    other = add_entry("Bob")
    rows = json.loads(_export("json"))
    for row in rows:
        if row["id"] == str(view.id):
            row.update(notes="new", priority=1)
        if row["id"] == str(other.id):
            row["status"] = "cancelled"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(rows))
    skipped = exchange.import_file(path, STAFF)  # the default leaves them as they are
    assert (skipped["added"], skipped["updated"], skipped["skipped"]) == (0, 0, 2)
    assert reading.get(view.id).notes == "old"
    result = exchange.import_file(path, STAFF, on_existing="update")
    assert (result["added"], result["updated"], result["skipped"]) == (0, 2, 0)
    changed = reading.get(view.id)
    assert (changed.notes, changed.priority, changed.version) == ("new", 1, view.version + 1)
    assert changed.created_at == view.created_at
    assert reading.get(other.id).status == vocab.CANCELLED
    again = exchange.import_file(path, STAFF, on_existing="update")  # nothing left to change
    assert (again["updated"], again["skipped"]) == (0, 2)
    assert Entry.select().count() == 2


def _import_one(tmp_path: Path, **kept: Any) -> ValidationError:
    path = tmp_path / "one.json"
    path.write_text(json.dumps([entry_payload(), {**entry_payload(), **kept}]))
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    assert row_counts() == before
    return info.value


@pytest.mark.parametrize(
    ("kept", "field", "words"),
    [
        ({"created_at": "2026-11-21T09:00:00Z"}, "created_at", "in the future"),
        ({"created_at": "9999-01-01T00:00:00Z"}, "created_at", "between 1900-01-01"),
        ({"created_at": ["2026-11-01"]}, "created_at", "written as text"),
        ({"status": "lost"}, "status", "is not one of"),
        ({"status": ["waiting"]}, "status", "must be text"),
        ({"id": "not-a-uuid"}, "id", "is not a UUID"),
        ({"client_id": "0" * 31 + "1", "client": None}, "client_id", "not a client of this"),
        (
            {"created_at": "2026-11-10T09:00:00Z", "status_changed_at": "2026-11-01T09:00:00Z"},
            "status_changed_at",
            "before created_at",
        ),
        (
            {"created_at": "2026-11-01T09:00:00Z", "booked_at": "2026-11-10T09:00:00Z"},
            "booked_at",
            "the status is waiting",
        ),
        ({"version": 0}, "version", "whole number"),
        ({"created_by": "x" * 121}, "created_by", "longer than 120"),
    ],
)
def test_kept_fields_are_checked_and_the_row_named(clinic, tmp_path, kept, field, words) -> None:
    err = _import_one(tmp_path, **kept)
    assert err.code == 4000 and err.field == field
    assert err.message.startswith(f"row 2: {field}") and words in err.message, err.message


def test_a_booked_entry_round_trips_with_its_booking_time(clinic, tmp_path: Path) -> None:
    row = {
        **entry_payload(date_range_start="2026-11-01", date_range_end="2026-11-15"),
        "id": "5b0c1d7e-0000-4000-8000-000000000001",
        "status": "booked",
        "created_at": "2026-11-01T10:00:00.250000Z",
        "booked_at": "2026-11-12T15:30:00Z",
        "status_changed_at": "2026-11-12T15:30:00Z",
    }
    path = tmp_path / "booked.json"
    path.write_text(json.dumps([row]))
    assert exchange.import_file(path, STAFF)["added"] == 1
    view = reading.get(row["id"])
    assert view.status == vocab.BOOKED and exchange.precise(view.booked_at) == row["booked_at"]
    assert exchange.precise(view.created_at) == row["created_at"]
    assert_rollups_match_a_rebuild()
