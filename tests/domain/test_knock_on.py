"""Knock-on fill (issue 22 part 2): accepting an earlier slot releases the client's later
appointment in the same transaction, as an opening that names the booking that freed it."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.timetravel import frozen_at
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import booking, knock_on, offers
from waitlist_tui.domain.stats import chains
from waitlist_tui.domain.store.models import Appointment, AuditEvent, Clinic, Entry, Offer, Opening
from waitlist_tui.domain.waitlist import changes, reading


def _later(entry, opening: Opening, days: int = 7, link: bool = True) -> Appointment:
    """A booking of the entry's client `days` after the opening, linked to the entry (or
    named by its original_appointment_at)."""
    clinic = Clinic.get()
    start = (opening.starts_at + dt.timedelta(days=days)).astimezone(
        dt.timezone(dt.timedelta(hours=-5))
    )
    view = booking.add_appointment(
        clinic, str(entry.client.id), "KIM", "PT-EVAL", start.strftime("%Y-%m-%dT%H:%M"), STAFF
    )
    if link:
        Appointment.update(entry=entry.id).where(Appointment.id == view.id).execute()
    else:
        Entry.update(original_appointment_at=Appointment.get_by_id(view.id).starts_at).where(
            Entry.id == entry.id
        ).execute()
    return Appointment.get_by_id(view.id)


def _auto_offer(on: bool) -> None:
    clinic = Clinic.get()
    settings = dict(clinic.settings or {})
    settings["calendar"] = {**(settings.get("calendar") or {}), "auto_offer": on}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()


@pytest.mark.parametrize("link", [True, False], ids=["linked", "original_appointment_at"])
def test_accepting_releases_the_later_appointment_as_an_opening(clinic: Clinic, link) -> None:
    ana = add_entry("Ana", priority=1)
    first = monday_opening()
    later = _later(ana, first, link=link)
    sent = offers.offer(first.id, STAFF)
    reply = offers.accept(sent[0].id, STAFF)
    assert reply.knock_on is not None and reply.knock_on.days_sooner == 7.0
    assert Appointment.get_by_id(later.id).status == "cancelled"
    freed = Opening.get_by_id(reply.knock_on.opening_id)
    assert freed.source == "knock_on" and freed.status == "open"
    assert freed.freed_by_id == reply.appointment_id and freed.chain == str(first.id)
    assert (freed.starts_at, freed.ends_at) == (later.starts_at, later.ends_at)
    who = knock_on.freed_by(freed)
    assert who is not None and who.client == "Ana Test" and who.days_sooner == 7.0
    assert reply.to_dict()["knock_on"]["opening_id"] == str(freed.id)
    actions = {a.action for a in AuditEvent.select().where(AuditEvent.object_id == str(later.id))}
    assert {"appointment.cancel", "appointment.knock_on"} <= actions
    assert not Offer.select().where(Offer.opening == freed).exists()  # auto_offer is off


def test_keep_later_appointment_releases_nothing(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1, keep_later_appointment=True)
    assert reading.get(ana.id).keep_later_appointment is True
    first = monday_opening()
    later = _later(ana, first)
    reply = offers.accept(offers.offer(first.id, STAFF)[0].id, STAFF)
    assert reply.knock_on is None
    assert Appointment.get_by_id(later.id).status == "booked"
    assert not Opening.select().where(Opening.source == "knock_on").exists()


def test_the_flag_is_checked_and_can_be_changed(clinic: Clinic) -> None:
    ana = add_entry("Ana")
    with pytest.raises(ValidationError) as info:
        changes.update(ana.id, {"keep_later_appointment": "perhaps"}, STAFF)
    assert info.value.field == "keep_later_appointment"
    assert changes.update(ana.id, {"keep_later_appointment": "yes"}, STAFF).keep_later_appointment


def test_an_earlier_appointment_is_not_released(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    first = monday_opening("14:00")
    before = _later(ana, first, days=1)  # linked, then moved before the slot: not later
    Appointment.update(
        starts_at=first.starts_at - dt.timedelta(hours=3),
        ends_at=first.starts_at - dt.timedelta(hours=2),
    ).where(Appointment.id == before.id).execute()
    reply = offers.accept(offers.offer(first.id, STAFF)[0].id, STAFF)
    assert reply.knock_on is None and Appointment.get_by_id(before.id).status == "booked"


def test_auto_offer_with_nobody_to_take_it_leaves_the_time_open(clinic: Clinic) -> None:
    """The automatic offer is a savepoint: nobody fitting keeps the booking and the release."""
    _auto_offer(True)
    ana = add_entry("Ana", priority=1)
    first = monday_opening()
    _later(ana, first)
    reply = offers.accept(offers.offer(first.id, STAFF)[0].id, STAFF)
    assert reply.knock_on is not None and reply.knock_on.offers == ()
    assert Opening.get_by_id(reply.knock_on.opening_id).status == "open"
    assert Entry.get_by_id(ana.id).status == "booked"


def test_a_chain_with_auto_offer_and_its_stats(clinic: Clinic) -> None:
    _auto_offer(True)
    ana = add_entry("Ana", priority=1)
    ben = add_entry("Ben", priority=2)
    first = monday_opening()
    _later(ana, first, days=7)
    _later(ben, first, days=14)
    reply = offers.accept(offers.offer(first.id, STAFF)[0].id, STAFF)
    assert reply.knock_on is not None
    # the freed time went straight to Ben (SEQUENTIAL, the clinic's default)
    assert [o.entry_id for o in reply.knock_on.offers] == [ben.id]
    second = offers.accept(reply.knock_on.offers[0].id, STAFF)
    assert second.knock_on is not None and second.knock_on.chain == str(first.id)
    assert second.knock_on.days_sooner == 7.0
    found = chains.knock_on_chains()
    assert len(found.chains) == 1
    chain = found.chains[0]
    assert (chain.length, chain.days_sooner) == (2, 14.0)
    assert found.moved_up == 2 and found.refilled == 1
    assert found.to_dict()["chains"][0]["length"] == 2


def test_a_chain_is_dated_by_the_clinic_day_it_started(clinic: Clinic) -> None:
    """Released at 21:00 in New York, 02:00 UTC the next day: the clinic's date it is."""
    ana = add_entry("Ana", priority=1)
    first = monday_opening()
    _later(ana, first, days=7)
    with frozen_at(pendulum.datetime(2026, 11, 21, 2, 0, tz="UTC")):
        offers.accept(offers.offer(first.id, STAFF)[0].id, STAFF)
    chain = chains.knock_on_chains().chains[0]
    assert chain.started_at.astimezone(dt.UTC).date() == dt.date(2026, 11, 21)
    assert chain.started_on == dt.date(2026, 11, 20)
    assert chain.to_dict()["started_on"] == "2026-11-20"
    assert len(chains.knock_on_chains(since=dt.date(2026, 11, 20)).chains) == 1
    assert chains.knock_on_chains(since=dt.date(2026, 11, 21)).chains == []


def test_a_later_appointment_past_the_notice_is_released_but_opens_nothing(clinic: Clinic) -> None:
    """Time rules: no opening is made past its deadline. An accept books a slot before its
    cutoff, so the later time is past its own cutoff only when called directly like this."""
    from waitlist_tui.domain import clock
    from waitlist_tui.domain.fill.offer_time import min_notice
    from waitlist_tui.domain.store.db import database

    ana = add_entry("Ana", priority=1)
    now = clock.now()
    soon = now + dt.timedelta(minutes=min_notice(Clinic.get()) // 2 + 1)
    zone = dt.timezone(dt.timedelta(hours=-5))
    view = booking.add_appointment(
        Clinic.get(),
        str(ana.client.id),
        "KIM",
        "PT-EVAL",
        soon.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        STAFF,
    )
    Appointment.update(entry=ana.id).where(Appointment.id == view.id).execute()
    earlier = Appointment.get_by_id(view.id)
    fake_booking = Appointment(id=earlier.id, starts_at=now)  # "booked" just now
    filled = monday_opening()
    with database.atomic():
        released = knock_on.release_later(Entry.get_by_id(ana.id), fake_booking, filled, STAFF, now)
    assert released is not None and released.opening_id is None
    assert Appointment.get_by_id(view.id).status == "cancelled"
    assert not Opening.select().where(Opening.source == "knock_on").exists()
