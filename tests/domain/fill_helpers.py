"""Builders for fill-engine tests: entries, openings and offers on the demo clinic's set-up.

The frozen clock is Friday 2026-11-20 09:30 in New York; Monday 2026-11-23 is the usual
slot day (KIM works 08:00-12:00 and 13:00-17:00 on Mondays).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.store.models import Appointment, Clinic, Opening, Provider, Service
from waitlist_tui.domain.waitlist import adding
from waitlist_tui.domain.waitlist.views import EntryView

_phone = iter(range(100, 10_000))


def add_entry(first: str = "Ana", **overrides: Any) -> EntryView:
    """A waiting PT-EVAL entry for a new client; any payload field can be overridden."""
    client = {"first_name": first, "last_name": "Test", "phone": f"617-555-{next(_phone):04d}"}
    payload = entry_payload(
        client=client, preferred_providers=[], preferred_days=[], preferred_time_slots=[]
    )
    payload.update(overrides)
    return adding.create(payload, STAFF)


def monday_opening(
    time: str = "09:00", provider: str = "KIM", minutes: int = 60, **kw: Any
) -> Opening:
    return add_opening(provider, f"2026-11-23T{time}", minutes, STAFF, **kw)


def entry_slot(entry: EntryView, provider_id: Any, start: dt.datetime) -> Slot:
    """The slot of the entry's service length from `start`, as the slots screen offers it."""
    end = start + dt.timedelta(minutes=entry.service.duration_minutes)
    return Slot(provider_id, start, end, entry.service.id)


def book_appointment(
    provider: str = "KIM", start: str = "2026-11-24T15:00:00Z", minutes: int = 30
) -> Appointment:
    """A desk's booking for a new waiting client (PT-FU with `provider`)."""
    from waitlist_tui.domain import clock

    entry = add_entry("Booked")
    clinic = Clinic.get()
    begins = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    return Appointment.create_by(
        STAFF,
        clock.now(),
        clinic=clinic.id,
        client=entry.client.id,
        provider=Provider.get(Provider.code == provider).id,
        service=Service.get(Service.code == "PT-FU").id,
        starts_at=begins,
        ends_at=begins + dt.timedelta(minutes=minutes),
    )
