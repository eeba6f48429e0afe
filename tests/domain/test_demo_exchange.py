"""Demo data (deterministic, consistent) and CSV/JSON import/export.

The dates below are the frozen clock's (Friday 2026-11-20, the `clinic` fixture freezes it), so
they hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from peewee import fn

from tests.conftest import STAFF, entry_payload
from waitlist_tui.demo import build as demo
from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.models import Appointment, Client, Entry, Offer, Opening
from waitlist_tui.domain.waitlist import adding, exchange


def test_demo_is_consistent_and_covers_every_status(db: object) -> None:
    counts = demo.build(entries=400, seed=3)
    assert counts["entry"] == 400
    statuses = Counter(e.status for e in Entry.select(Entry.status))
    assert set(statuses) == set(vocab.COUNTED_STATUSES)
    booked = Entry.select().where(Entry.status == vocab.BOOKED)
    per_entry = dict(
        Appointment.select(Appointment.entry, fn.COUNT(Appointment.id))
        .where(Appointment.entry.is_null(False))
        .group_by(Appointment.entry)
        .tuples()
    )
    assert all(per_entry.get(e.id) == 1 for e in booked)
    sent = Offer.select().where(Offer.status == vocab.OFFER_SENT)
    assert {o.entry.status for o in sent} == {vocab.OFFERED}
    assert sent.count() == statuses[vocab.OFFERED]
    for offer in sent:  # the offered slot lies in the entry's range
        day = offer.opening.starts_at.astimezone(ZoneInfo("America/New_York")).date()
        assert offer.entry.date_range_start <= day <= offer.entry.date_range_end
    assert (
        Opening.select()
        .where(
            Opening.status == vocab.OPENING_OPEN,
            Opening.source == "cancellation",
            Opening.appointment.is_null(False),
        )
        .count()
        >= 1
    )
    for e in Entry.select().where(Entry.status.in_(list(vocab.ACTIVE_STATUSES))):
        assert e.date_range_end >= db_today() and (e.date_range_end - e.date_range_start).days <= 30


def db_today():
    import datetime as dt

    return dt.date(2026, 11, 20)


def test_demo_is_deterministic_for_a_seed(db: object) -> None:
    demo.build(entries=120, seed=11)
    first = list(Entry.select(Entry.id, Entry.status, Entry.priority).order_by(Entry.id).tuples())
    demo.build(entries=120, seed=11)
    again = list(Entry.select(Entry.id, Entry.status, Entry.priority).order_by(Entry.id).tuples())
    assert first == again
    demo.build(entries=120, seed=12)
    assert list(Entry.select(Entry.id).order_by(Entry.id).tuples()) != [r[:1] for r in first]


def test_export_then_import_round_trips(clinic, tmp_path) -> None:
    adding.create(
        entry_payload(
            preferred_time_slots=[], preferred_time_start="09:00", preferred_time_end="14:00"
        ),
        STAFF,
    )
    adding.create(
        entry_payload(
            client={"first_name": "Omar", "last_name": "Haddad", "phone": "617-555-0199"},
            service="MASSAGE",
            preferred_providers=[],
            priority=1,
            preferred_days=[],
        ),
        STAFF,
    )
    for fmt in ("csv", "json"):
        buffer = io.StringIO()
        assert exchange.export(buffer, fmt) == 2
        (tmp_path / f"out.{fmt}").write_text(buffer.getvalue())
    for fmt in ("csv", "json"):  # the same database: every entry is already here, by id
        result = exchange.import_file(tmp_path / f"out.{fmt}", STAFF)
        assert (result["added"], result["skipped"], result["errors"]) == (0, 2, [])
    assert Entry.select().count() == 2
    assert Client.select().count() == 2
    window = Entry.select().where(Entry.preferred_time_start == 540).count()
    assert window == 1
    rows = list(json.loads((tmp_path / "out.json").read_text()))
    assert {r["service"]["code"] for r in rows} == {"PT-EVAL", "MASSAGE"}


CSV_BAD = """first_name,last_name,phone,email,service,preferred_days,date_range_start,date_range_end,payment_type,priority
Ana,Silva,617-555-0101,,PT-FU,MONDAY,2026-11-23,2026-12-10,SELF_PAY,2
Rui,Costa,617-555-0102,,PT-FU,FUNDAY,2026-11-23,2026-12-10,SELF_PAY,2
Eva,Berg,617-555-0103,,PT-FU,,2026-12-10,2026-11-23,SELF_PAY,2
Ola,Nowak,617-555-0104,,PT-FU,,2026-11-23,2026-12-10,,3
"""


def test_import_reports_each_bad_row_and_imports_nothing(clinic, tmp_path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(CSV_BAD)
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    errors = info.value.data["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [
        (3, "preferred_days"),
        (4, "date_range_end"),
    ]  # row 5 leaves payment_type blank: the clinic's default (SELF_PAY)
    assert "2 of 4 rows are invalid" in info.value.message
    assert Entry.select().count() == 0 and Client.select().count() == 0


def test_import_skip_invalid_keeps_the_good_rows(clinic, tmp_path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(CSV_BAD)
    result = exchange.import_file(path, STAFF, skip_invalid=True)
    assert (result["added"], result["invalid"], result["rows"]) == (2, 2, 4)
    assert Entry.select().count() == 2 and Client.select().count() == 2


def test_import_refuses_bad_statuses_and_unknown_columns(clinic, tmp_path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{**entry_payload(), "status": "lost"}]))
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    assert info.value.data["errors"][0]["message"].startswith("status 'lost' is not one of")
    assert info.value.message.startswith("row 1: status 'lost'")
    path = tmp_path / "bad.csv"
    path.write_text("service,payment_type,first_name,last_name,favourite_colour\nPT-FU,,A,B,blue\n")
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    assert "favourite_colour" in info.value.data["errors"][0]["message"]
