"""The match finder's service calls and the messages their results come back in (calls.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock
from waitlist_tui.domain.calendar.freshness import freshness
from waitlist_tui.domain.catalog.clinics import get_clinic, providers
from waitlist_tui.domain.fill import finder
from waitlist_tui.domain.fill.fairness import OpeningWhy
from waitlist_tui.domain.fill.finder import CalendarRow, Found, TypedSlot
from waitlist_tui.domain.fill.offers import OfferView
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.tui import calls


@dataclass(frozen=True)
class Calendar:
    """The day's bookings and what the slot form needs, as the worker reads them."""

    day: dt.date
    zone: ZoneInfo
    rows: list[CalendarRow]
    provider_codes: list[str]
    broadcast_top_n: int
    calendars: tuple[str, bool] | None = None  # the clinic's calendars: when synced, or a warning


def read_calendar(day: dt.date | None) -> Calendar:
    clinic = get_clinic()
    day = day or clock.today(clinic.time_zone)
    return Calendar(
        day,
        ZoneInfo(clinic.time_zone),
        finder.day_calendar(day, clinic),
        [p.code for p in providers(clinic)],
        clinic.broadcast_top_n,
        freshness(clinic, clock.now()),
    )


def find_candidates(source: Any) -> Found:
    """Always EXACT and PARTIAL: `p` then filters what is on screen without a query (the
    EXACT ones rank first, so the list holds every EXACT one it has room for)."""
    if isinstance(source, TypedSlot):
        return finder.find_for_typed(source)
    return finder.find_for_opening(source)


class CalendarRead(calls.Done[Calendar]):
    pass


class CalendarFailed(calls.Failed):
    pass


class CandidatesFound(calls.Done[Found]):
    """Candidates for a slot: searched for, or its appointment just cancelled."""


class SearchFailed(calls.Failed):
    pass


class AppointmentCancelled(calls.Done[Found]):
    pass


class Offered(calls.Done[list[OfferView]]):
    pass


class OfferRefused(calls.Failed):
    pass


class WhyRead(calls.Done[OpeningWhy]):
    """The opening's fairness record, for `w`."""


class Skipped(calls.Done[dict[str, Any]]):
    """A candidate skipped with its reason, for `x`."""


def send_found(
    found: Found, staff: str, entry_id: Any, workflow: str | None, top: int | None
) -> list[OfferView]:
    """Offer what the finder shows: its opening, or the typed slot, opened in the same
    transaction as the offers (fill.slot_offers.offer_slot)."""
    return offer_slot(found.target, staff, entry_id=entry_id, workflow=workflow, top=top)
