"""The demo's history obeys the live engine's rules: a newcomer never sees a false EXACT, a
slot on a provider's day off, an offer made for another service, or a deadline past the notice.
The demo labels offers with availability.soft_fails; these tests check that against the SQL
matcher (matching.candidates), which is what the desk's finder ranks with."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.demo import build as demo
from waitlist_tui.domain import vocab
from waitlist_tui.domain.fill import matching, offer_time
from waitlist_tui.domain.fill.availability import part_windows, soft_fails, start_part_mask
from waitlist_tui.domain.store.models import (
    Appointment,
    Clinic,
    Entry,
    EntryProvider,
    Offer,
    Opening,
    Provider,
)


def _fails(entry: Entry, opening: Opening, clinic: Clinic) -> tuple[str, ...]:
    local = opening.starts_at.astimezone(ZoneInfo(clinic.time_zone))
    minute = local.hour * 60 + local.minute
    wanted = {
        link.provider_id for link in EntryProvider.select().where(EntryProvider.entry == entry)
    }
    return soft_fails(
        wanted,
        opening.provider_id,
        entry.preferred_days,
        entry.preferred_time_slots,
        (entry.preferred_time_start, entry.preferred_time_end),
        local.weekday(),
        minute,
        entry.service.duration_minutes,
        start_part_mask(part_windows(clinic), minute),
    )


def _works(provider: Provider, local: dt.datetime, minutes: int) -> bool:
    day = vocab.DAYS[local.weekday()]
    start = local.hour * 60 + local.minute
    for a, b in provider.weekly_hours.get(day, []):
        lo, hi = int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])
        if lo <= start and start + minutes <= hi:
            return True
    return False


@pytest.mark.parametrize("seed", [5, 7])
def test_every_demo_offer_is_labelled_by_the_rules(db, seed: int) -> None:
    demo.build(entries=800, seed=seed, actor=STAFF)
    clinic = Clinic.get()
    zone = ZoneInfo(clinic.time_zone)
    notice = dt.timedelta(minutes=offer_time.min_notice(clinic))
    offers = list(Offer.select(Offer, Opening, Entry).join(Opening).switch(Offer).join(Entry))
    assert len(offers) > 50
    labels = set()
    for offer in offers:
        opening, entry = offer.opening, offer.entry
        assert entry.service_id == opening.service_id, "an offer for another service"
        fails = _fails(entry, opening, clinic)
        assert offer.match_type == (vocab.PARTIAL if fails else vocab.EXACT), (offer.id, fails)
        labels.add(offer.match_type)
        local = opening.starts_at.astimezone(zone)
        minutes = int((opening.ends_at - opening.starts_at).total_seconds() // 60)
        assert _works(opening.provider, local, minutes), f"{opening.provider.code} off at {local}"
        if offer.status == vocab.OFFER_SENT:
            assert offer.expires_at <= opening.starts_at - notice
    assert labels == {vocab.EXACT, vocab.PARTIAL}  # both kinds occur, each where it should


def test_soft_fails_agrees_with_the_sql_matcher(clinic: Clinic) -> None:
    """The two forms of the soft rules (Python for the demo, SQL for the finder) agree."""
    add_entry("Any")
    add_entry("Kim", preferred_providers=["KIM"])
    add_entry("Patel", preferred_providers=["PATEL"])
    add_entry("Mon", preferred_days=["MONDAY"])
    add_entry("Fri", preferred_days=["FRIDAY"])
    add_entry("Am", preferred_time_slots=["MORNING"])
    add_entry("Pm", preferred_time_slots=["AFTERNOON"])
    add_entry("Anytime", preferred_time_slots=["ANYTIME", "EVENING"])
    add_entry("Window", preferred_time_start="10:00", preferred_time_end="14:00")
    add_entry("Tight", preferred_time_start="09:00", preferred_time_end="09:30")
    for time in ("09:00", "10:00", "13:00"):
        opening = monday_opening(time)
        found = matching.candidates(opening).items
        assert len(found) == 10
        for candidate in found:
            entry = Entry.get_by_id(candidate.entry_id)
            assert _fails(entry, opening, clinic) == candidate.fails, candidate.client_name


def test_demo_bookings_come_before_their_appointments(db) -> None:
    """An entry "booked since 23 May" held an appointment on 12 May."""
    demo.build(entries=600, seed=5, actor=STAFF)
    booked = list(
        Appointment.select(Appointment, Entry).join(Entry).where(Entry.status == vocab.BOOKED)
    )
    assert len(booked) > 100
    late = [a.id for a in booked if a.entry.booked_at > a.starts_at]
    assert late == []
