"""The match finder's domain: typed slots previewed without writing, offered in one
transaction, and a phoned-in cancellation turned into candidates (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.timetravel import frozen_at
from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import finder, matching, offers, openings
from waitlist_tui.domain.fill.finder import TypedSlot
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.store.models import Appointment, Clinic, Offer, Opening

MONDAY_9 = TypedSlot("KIM", "mon", "9", "60")  # frozen clock: Friday 20 Nov; Monday is the 23rd


def booked_appointment(first: str = "Booked", time: str = "09:00") -> Appointment:
    entry = add_entry(first)
    sent = offers.offer(monday_opening(time).id, STAFF, entry_id=entry.id)
    offers.accept(sent[0].id, STAFF)
    return Appointment.get(Appointment.entry == entry.id)


def test_a_typed_slot_ranks_like_an_opening_and_writes_nothing(clinic: Clinic) -> None:
    add_entry("Ana")
    add_entry("Ben", preferred_days=["TUESDAY"])
    found = finder.find_for_typed(MONDAY_9)
    assert not found.saved and Opening.select().count() == 0
    assert found.opening.provider_code == "KIM" and found.opening.minutes == 60
    assert found.opening.starts_at == dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
    saved = monday_opening("09:00")
    expected = matching.candidates(saved).items
    assert [(c.entry_id, c.match_type, c.fails) for c in found.candidates.items] == [
        (c.entry_id, c.match_type, c.fails) for c in expected
    ]
    assert [c.match_type for c in found.candidates.items] == ["EXACT", "PARTIAL"]
    hidden = finder.find_for_typed(MONDAY_9, include_partial=False)
    assert [c.client_name for c in hidden.candidates.items] == ["Ana Test"]


def test_a_typed_slot_an_open_opening_covers_uses_that_opening(clinic: Clinic) -> None:
    opening = monday_opening("09:00")
    found = finder.find_for_typed(TypedSlot("kim", "2026-11-23", "09:00", "60"))
    assert found.saved and found.opening.id == opening.id


@pytest.mark.parametrize(
    ("slot", "field", "words"),
    [
        (TypedSlot("KIM", "someday", "9", "60"), "date", "not a date"),
        (TypedSlot("KIM", "mon", "25:00", "60"), "time", "wall-clock time"),
        (TypedSlot("KIM", "mon", "9", "an hour"), "minutes", "whole number"),
        (TypedSlot("KIM", "mon", "9", "900"), "minutes", "5-720"),
        (TypedSlot("", "mon", "9", "60"), "provider", "required"),
        (TypedSlot("NOBODY", "mon", "9", "60"), "provider", "NOBODY"),
        (TypedSlot("KIM", "today", "8", "60"), "start", "past"),
    ],
)
def test_bad_slots_name_the_field_and_write_nothing(
    clinic: Clinic, slot: TypedSlot, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as err:
        finder.find_for_typed(slot)
    assert err.value.field == field and words in err.value.message
    assert Opening.select().count() == 0


def test_a_booked_time_is_refused_with_the_way_to_free_it(clinic: Clinic) -> None:
    booked_appointment()
    with pytest.raises(Conflict) as err:
        finder.find_for_typed(TypedSlot("KIM", "mon", "9:30", "30"))
    assert err.value.field == "time" and "cancel it from the calendar" in err.value.message


def test_offering_a_typed_slot_creates_the_opening_with_the_offer(clinic: Clinic) -> None:
    ana = add_entry("Ana")
    found = finder.find_for_typed(MONDAY_9)
    sent = offer_slot(found.target, STAFF, entry_id=ana.id)
    assert [o.entry_id for o in sent] == [ana.id]
    opening = Opening.get()
    assert opening.status == vocab.OPENING_OPEN and opening.starts_at == found.opening.starts_at
    # the same typed slot again now finds that opening, and Ana no longer ranks for it
    again = finder.find_for_typed(MONDAY_9)
    assert again.saved and again.opening.id == opening.id and again.candidates.items == []


def test_a_refused_offer_leaves_no_opening(clinic: Clinic) -> None:
    massage = add_entry("Mia", service="MASSAGE")  # KIM does not offer massage
    add_entry("Ana")
    found = finder.find_for_typed(MONDAY_9)
    with pytest.raises(ValidationError) as err:
        offer_slot(found.target, STAFF, entry_id=massage.id)
    assert err.value.field == "entry"
    assert Opening.select().count() == 0 and Offer.select().count() == 0


def test_broadcast_to_the_top_three(clinic: Clinic) -> None:
    for name in ("Ana", "Ben", "Cal", "Dee", "Eve"):
        add_entry(name)
    found = finder.find_for_typed(MONDAY_9)
    sent = offer_slot(found.target, STAFF, workflow="BROADCAST", top=3)
    top = [c.entry_id for c in found.candidates.items[:3]]  # same wait: ties go by id
    assert [o.entry_id for o in sent] == top
    assert Opening.get().workflow == "BROADCAST"


def test_nobody_to_offer_is_a_conflict_and_writes_nothing(clinic: Clinic) -> None:
    found = finder.find_for_typed(MONDAY_9)
    with pytest.raises(Conflict):
        offer_slot(found.target, STAFF)
    assert Opening.select().count() == 0


def test_the_day_calendar_and_a_phoned_in_cancellation(clinic: Clinic) -> None:
    appointment = booked_appointment("Booked", "09:00")
    add_entry("Ana")
    day = dt.date(2026, 11, 23)
    rows = finder.day_calendar(day)
    assert [(r.appointment.client_name, r.can_cancel, r.open_slot) for r in rows] == [
        ("Booked Test", True, False)
    ]
    found = finder.cancel_for_waitlist(appointment.id, STAFF)
    assert found.saved and [c.client_name for c in found.candidates.items] == ["Ana Test"]
    row = finder.day_calendar(day)[0]
    assert not row.can_cancel and row.open_slot and row.opening_id == found.opening.id
    assert finder.find_for_opening(row.opening_id).opening.id == found.opening.id
    sent = offer_slot(found.target, STAFF)  # the best candidate, one at a time
    assert [o.client_name for o in sent] == ["Ana Test"]


def test_a_started_appointment_stays_booked(clinic: Clinic) -> None:
    appointment = booked_appointment()
    started = pendulum.datetime(2026, 11, 23, 14, 10, tz="UTC")
    with frozen_at(started), pytest.raises(ValidationError) as err:
        finder.cancel_for_waitlist(appointment.id, STAFF)
    assert err.value.field == "appointment"
    assert Appointment.get_by_id(appointment.id).status == vocab.APPT_BOOKED


def test_a_filled_opening_is_not_matched(clinic: Clinic) -> None:
    opening = monday_opening()
    add_entry("Ana")
    sent = offers.offer(opening.id, STAFF)
    offers.accept(sent[0].id, STAFF)
    with pytest.raises(Conflict) as err:
        finder.find_for_opening(opening.id)
    assert "filled" in err.value.message


def test_a_slot_is_offered_at_the_instant_it_was_read_even_when_the_clock_repeats(
    clinic: Clinic,
) -> None:
    """01:30 on 7 Nov 2027 happens twice in New York. The slot travels as a UTC value: the
    opening starts at the second 01:30 (06:30Z), not the first (05:30Z), without the
    local-text round trip the offer paths used to make (and the fold it had to carry)."""
    ana = add_entry("Ana", date_range_start="2027-11-01", date_range_end="2027-11-20")
    slot = openings.typed_slot("KIM", dt.datetime(2027, 11, 7, 1, 30), 60, None, True, clinic)
    assert slot.start == dt.datetime(2027, 11, 7, 6, 30, tzinfo=dt.UTC)
    sent = offer_slot(slot, STAFF, entry_id=ana.id)
    opening = Opening.get_by_id(sent[0].opening_id)
    assert (opening.starts_at, opening.ends_at) == (slot.start, slot.end)
