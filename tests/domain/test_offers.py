"""Offers and bookings: workflows, replies, expiry, and that nothing is half-written."""

from __future__ import annotations

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.test_entries import assert_rejected
from tests.timetravel import frozen_at
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import expiry, offers, openings
from waitlist_tui.domain.store.models import Appointment, Clinic, Entry, Offer, Opening
from waitlist_tui.domain.waitlist import changes, reading


def status(view) -> str:
    return Entry.get_by_id(view.id).status


def test_sequential_offers_the_best_candidate_one_at_a_time(clinic: Clinic) -> None:
    best = add_entry("Best", priority=1)
    add_entry("Next", priority=2)
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF)
    assert [o.entry_id for o in sent] == [best.id] and status(best) == "offered"
    offer = Offer.get_by_id(sent[0].id)
    assert (offer.expires_at - offer.sent_at).total_seconds() == 120 * 60  # clinic hold
    assert offer.match_type == "EXACT" and Opening.get_by_id(opening.id).workflow == "SEQUENTIAL"
    assert_rejected(lambda: offers.offer(opening.id, STAFF), Conflict, "one at a time")


def test_broadcast_to_top_n_and_first_accept_wins(clinic: Clinic) -> None:
    people = [add_entry(f"B{i}", priority=1 + i % 5) for i in range(5)]
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=3)
    assert len(sent) == 3 and all(
        status(p) == "offered" for p in people if p.id in {o.entry_id for o in sent}
    )
    reply = offers.accept(sent[1].id, "maria")
    appointment = Appointment.get_by_id(reply.appointment_id)
    assert appointment.entry_id == sent[1].entry_id and appointment.starts_at == opening.starts_at
    assert (appointment.ends_at - appointment.starts_at).total_seconds() == 3600
    assert Opening.get_by_id(opening.id).status == "filled"
    assert Entry.get_by_id(sent[1].entry_id).status == "booked"
    assert Entry.get_by_id(sent[1].entry_id).booked_at is not None
    others = [Offer.get_by_id(o.id) for o in (sent[0], sent[2])]
    assert {o.status for o in others} == {"rescinded"}
    assert {Entry.get_by_id(o.entry_id).status for o in others} == {"waiting"}
    assert_rejected(lambda: offers.accept(sent[0].id, "tom"), Conflict, "opening already filled")
    assert_rejected(lambda: offers.accept(sent[1].id, "tom"), Conflict, "offer is accepted")
    assert_rejected(lambda: offers.offer(opening.id, STAFF), Conflict, "opening already filled")


def test_offer_to_a_specific_entry(clinic: Clinic) -> None:
    add_entry("First", priority=1)
    chosen = add_entry("Chosen", priority=4)
    stranger = add_entry(
        "Stranger", service="PT-FU", date_range_start="2026-11-25", date_range_end="2026-12-01"
    )
    opening = monday_opening()
    assert offers.offer(opening.id, STAFF, entry_id=str(chosen.id)[:8])[0].entry_id == chosen.id
    assert_rejected(
        lambda: offers.offer(opening.id, STAFF, entry_id=stranger.id),
        ValidationError,
        "cannot take this opening",
    )
    assert_rejected(
        lambda: offers.offer(opening.id, STAFF, entry_id=chosen.id),
        Conflict,
        "waitlist request is offered",
    )


def test_decline_moves_a_sequential_offer_to_the_next(clinic: Clinic) -> None:
    first, second = add_entry("First", priority=1), add_entry("Second", priority=2)
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF)
    reply = offers.decline(sent[0].id, STAFF, note="busy that day")
    assert reply.offer.status == "declined" and reply.offer.note == "busy that day"
    assert status(first) == "waiting"
    assert [o.entry_id for o in reply.next_offers] == [second.id] and status(second) == "offered"
    last = offers.decline(reply.next_offers[0].id, STAFF)
    assert last.next_offers == ()  # nobody left who was not offered this opening
    assert Opening.get_by_id(opening.id).status == "open"


def test_rescind_does_not_advance(clinic: Clinic) -> None:
    first = add_entry("First", priority=1)
    add_entry("Second", priority=2)
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF)
    reply = offers.rescind(sent[0].id, STAFF)
    assert reply.offer.status == "rescinded" and status(first) == "waiting"
    assert Offer.select().where(Offer.status == "sent").count() == 0
    assert_rejected(lambda: offers.decline(sent[0].id, STAFF), Conflict, "offer is rescinded")


def test_expiry_with_time_moving_advances_sequential(clinic: Clinic) -> None:
    first, second = add_entry("First", priority=1), add_entry("Second", priority=2)
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF, hold_minutes=30)
    assert offers.expire_offers() == {
        "offers_expired": 0,
        "offers_advanced": 0,
        "openings_closed": 0,
    }
    with frozen_at(pendulum.datetime(2026, 11, 20, 15, 1, tz="UTC")):
        assert_rejected(lambda: offers.accept(sent[0].id, STAFF), Conflict, "offer expired")
        assert offers.expire_offers() == {
            "offers_expired": 1,
            "offers_advanced": 1,
            "openings_closed": 0,
        }
        assert Offer.get_by_id(sent[0].id).status == "expired" and status(first) == "waiting"
        assert status(second) == "offered"


def test_maintenance_expire(clinic: Clinic) -> None:
    stale = add_entry("Stale", date_range_start="2026-11-20", date_range_end="2026-11-22")
    dated = add_entry("Dated", expires_at="2026-11-22T00:00:00Z")
    old = add_entry("Old")
    with frozen_at(pendulum.datetime(2026, 11, 23, 15, tz="UTC")):
        fresh = add_entry("Fresh")
        counts = expiry.expire(older_than_days=2)
    assert counts["entries_range_ended"] == 1 and counts["entries_past_expires_at"] == 1
    assert counts["entries_too_old"] == 1
    assert [status(v) for v in (stale, dated, old, fresh)] == ["expired"] * 3 + ["waiting"]
    with pytest.raises(ValidationError):
        expiry.expire(older_than_days=0)


def test_include_offers_and_narrowing_range(clinic: Clinic) -> None:
    entry = add_entry("Held", date_range_start="2026-11-21", date_range_end="2026-12-10")
    opening = monday_opening()
    offers.offer(opening.id, STAFF)
    detail = reading.offers_detail(entry.id)
    assert detail["matched_invites"][0]["status"] == "sent"
    assert detail["matched_waitlists"][0]["workflow_type"] == "SEQUENTIAL"
    assert_rejected(
        lambda: changes.update(entry.id, {"date_range_start": "2026-11-24"}, STAFF),
        ValidationError,
        "active invites exist for this request",
    )


def test_openings_and_appointment_cancellation(clinic: Clinic) -> None:
    opening = monday_opening("09:00")
    assert opening.starts_at.isoformat() == "2026-11-23T14:00:00+00:00"
    assert_rejected(lambda: monday_opening("09:30"), Conflict, "open opening already covers")
    assert_rejected(
        lambda: openings.add_opening("KIM", "2026-11-19T09:00", 60, STAFF),
        ValidationError,
        "start is in the past",
    )
    assert_rejected(
        lambda: openings.add_opening("NOBODY", "2026-11-24T09:00", 60, STAFF),
        ValidationError,
        "provider 'NOBODY'",
    )
    assert_rejected(
        lambda: openings.add_opening("KIM", "2026-11-24T09:00", 60, STAFF, service="MASSAGE"),
        ValidationError,
        "KIM does not offer MASSAGE",
    )
    entry = add_entry("Booked")
    sent = offers.offer(opening.id, STAFF)
    appointment_id = offers.accept(sent[0].id, STAFF).appointment_id
    assert_rejected(lambda: monday_opening("09:30", minutes=30), Conflict, "has an appointment")
    listed = openings.list_appointments(pendulum.date(2026, 11, 23), "KIM")
    assert [a.id for a in listed] == [appointment_id] and listed[0].entry_id == entry.id
    appt, reopened = openings.cancel_appointment(str(appointment_id)[:8], "maria")
    assert appt.status == "cancelled" and reopened.status == "open"
    assert (reopened.source, reopened.appointment_id) == ("cancellation", appointment_id)
    assert (reopened.starts_at, reopened.ends_at) == (appt.starts_at, appt.ends_at)
    assert_rejected(
        lambda: openings.cancel_appointment(appointment_id, STAFF),
        Conflict,
        "appointment is cancelled",
    )


def test_daylight_saving_local_times(clinic: Clinic) -> None:
    with frozen_at(pendulum.datetime(2027, 3, 1, 12, tz="UTC")):
        assert_rejected(
            lambda: openings.add_opening("KIM", "2027-03-14T02:30", 30, STAFF),
            ValidationError,
            "does not exist in America/New_York",
        )
    with frozen_at(pendulum.datetime(2026, 10, 20, 12, tz="UTC")):
        earlier = openings.add_opening("PATEL", "2026-11-01T01:30", 20, STAFF)
        later = openings.add_opening("PATEL", "2026-11-01T01:30", 20, STAFF, later=True)
    assert earlier.starts_at.isoformat() == "2026-11-01T05:30:00+00:00"  # EDT, UTC-4
    assert later.starts_at.isoformat() == "2026-11-01T06:30:00+00:00"  # EST, UTC-5


def test_taken_by_says_who_holds_the_slot_after_a_lost_race(clinic: Clinic) -> None:
    """ "offer is accepted" read like success to the desk that lost; the desk is told who won."""
    add_entry("Kai")
    add_entry("Lia")
    opening = monday_opening()
    first, second = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=2)
    assert offers.taken_by(first.id) is None  # nothing filled yet
    offers.accept(first.id, "front-desk")
    won = Entry.get_by_id(first.entry_id).client
    assert offers.taken_by(second.id) == (
        f"another desk (front-desk) booked this slot first: {won.first_name} {won.last_name} got it"
    )
    with pytest.raises(Conflict, match="offer is accepted"):  # the API keeps its wording
        offers.accept(first.id, STAFF)
    assert offers.taken_by(first.id) == (
        f"already booked by front-desk: {won.first_name} {won.last_name} has this slot"
    )
