"""From an opening to people: what the match finder needs beyond `matching.candidates`.

The desk finds candidates for a slot before anything is written: a typed-in slot is read once
into a `Slot`, checked and ranked as an unsaved opening, and only offering it
(`slot_offers.offer_slot(found.target, ...)`) creates the opening, in the same transaction as
the offers. A slot that an open opening already covers uses that opening, so
two desks typing the same gap offer one opening. A booked appointment the client cancels on
the phone becomes its opening in one step.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import lead_time, offer_time
from waitlist_tui.domain.fill.availability import outside_hours
from waitlist_tui.domain.fill.held_back import held_back
from waitlist_tui.domain.fill.matching import CandidateList, candidates
from waitlist_tui.domain.fill.openings import (
    AppointmentView,
    OpeningView,
    cancel_appointment,
    day_bounds,
    first_overlap,
    get_opening,
    list_appointments,
    typed_slot,
)
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.quickdates import parse_quick_date
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Appointment, Clinic, Opening, Provider

CANDIDATE_LIMIT = 50
_TIME = re.compile(r"(\d{1,2})(?::?(\d{2}))?")  # 9, 930, 9:30, 09:30


@dataclass(frozen=True)
class TypedSlot:
    """A slot as the desk types it: provider code, a quick date, a wall-clock time, minutes."""

    provider: str
    date_text: str
    time_text: str
    minutes_text: str

    def resolved(self, clinic: Clinic) -> tuple[dt.datetime, int]:
        """The wall-clock start (naive, the clinic's zone) and the minutes, or a
        ValidationError naming the field."""
        day = parse_quick_date(self.date_text, clock.today(clinic.time_zone), "date")
        match = _TIME.fullmatch(self.time_text.strip().lower())
        if match is None or int(match[1]) > 23 or int(match[2] or 0) > 59:
            raise ValidationError(
                f"time must be a wall-clock time like 09:30 or 930, got {self.time_text!r}",
                field="time",
            )
        at = dt.time(int(match[1]), int(match[2] or 0))
        try:
            minutes = int(self.minutes_text.strip())
        except ValueError:
            raise ValidationError(
                f"minutes must be a whole number, got {self.minutes_text!r}", field="minutes"
            ) from None
        if not self.provider:
            raise ValidationError("provider is required", field="provider")
        return dt.datetime.combine(day, at), minutes


@dataclass(frozen=True)
class Found:
    """The slot being matched and its ranked candidates. `saved` is False for a typed slot
    that no opening covers yet: offering it creates one. `terms` says, before the offer is
    made, its true deadline and whether its message could go out in time (quiet hours)."""

    opening: OpeningView
    saved: bool
    candidates: CandidateList
    terms: offer_time.OfferTerms | None = None  # an offer made now: deadline, phone or not
    outside_hours: str | None = None  # why the slot lies outside the provider's hours
    slot: Slot | None = None  # the typed slot, as parsed once (None: an opening was found)
    choice: lead_time.Chosen | None = None  # the workflow an offer now would use, and why
    held: dict[str, str] = field(default_factory=dict)  # entry id -> why an offer now skips it

    @property
    def target(self) -> Slot | uuid.UUID:
        """What `offer_slot` offers: the opening, or the typed slot it will open."""
        if self.saved or self.slot is None:
            return uuid.UUID(str(self.opening.id))
        return self.slot


def _hours(clinic: Clinic, opening: Opening) -> str | None:
    return outside_hours(opening.provider, opening.starts_at, opening.ends_at, clinic.time_zone)


def choice(clinic: Clinic, opening: Opening) -> lead_time.Chosen:
    """The workflow, hold and broadcast size an offer made now would take, and why: the
    opening's own workflow (chosen by hand) or the clinic's lead-time rule."""
    return lead_time.choose(clinic, opening.starts_at, clock.now(), opening.workflow)


def offer_terms(clinic: Clinic, opening: Opening) -> offer_time.OfferTerms:
    """What an offer of this slot made now would be, with the hold and workflow it takes."""
    chosen = choice(clinic, opening)
    return offer_time.terms(
        clinic, opening.starts_at, chosen.hold_minutes, clock.now(), chosen.workflow
    )


def offer_terms_now(opening: Opening) -> dict[str, Any] | None:
    """An open opening's offer terms as JSON, or why it can no longer be offered."""
    if opening.status != vocab.OPENING_OPEN:
        return None
    clinic = opening.clinic
    now = clock.now()
    if offer_time.is_too_late(clinic, opening.starts_at, now):
        return {"too_late": offer_time.too_late_text(clinic, opening.starts_at, now)}
    return {**offer_terms(clinic, opening).to_dict(), "workflow": choice(clinic, opening).to_dict()}


def find_for_opening(
    opening_id: IdRef, include_partial: bool = True, limit: int = CANDIDATE_LIMIT
) -> Found:
    opening = get_opening(opening_id)
    if opening.status != vocab.OPENING_OPEN:
        raise Conflict(f"opening is {opening.status}", data={"status": opening.status})
    clinic = opening.clinic
    offer_time.check_in_time(clinic, opening.starts_at, clock.now())
    ranked = candidates(opening, limit=limit, include_partial=include_partial)
    return Found(
        OpeningView.of(opening),
        True,
        ranked,
        offer_terms(clinic, opening),
        _hours(clinic, opening),
        choice=choice(clinic, opening),
        held=held_back(ranked.items, clinic, clock.now()),
    )


def _covering(
    clinic: Clinic, provider_id: IdRef, starts: dt.datetime, ends: dt.datetime
) -> Opening | None:
    found: Opening | None = (
        Opening.select()
        .where(
            Opening.clinic == clinic,
            Opening.provider == provider_id,
            Opening.status == vocab.OPENING_OPEN,
            Opening.starts_at == starts,
            Opening.ends_at == ends,
        )
        .first()
    )
    return found


def _booked_clash(provider: Provider, starts: dt.datetime, ends: dt.datetime) -> None:
    clash = first_overlap(Appointment, provider, vocab.APPT_BOOKED, starts, ends)
    if clash is not None:
        local = clash.starts_at.astimezone(ZoneInfo(clash.clinic.time_zone))
        raise Conflict(
            f"that time is booked ({local:%H:%M} appointment); cancel it from the calendar",
            field="time",
            data={"appointment_id": str(clash.id)},
        )


def find_for_typed(
    slot: TypedSlot,
    include_partial: bool = True,
    limit: int = CANDIDATE_LIMIT,
    clinic: Clinic | None = None,
) -> Found:
    clinic = clinic or get_clinic()
    start, minutes = slot.resolved(clinic)
    parsed = typed_slot(slot.provider, start, minutes, None, False, clinic)
    starts, ends = parsed.start, parsed.end
    existing = _covering(clinic, parsed.provider_id, starts, ends)
    if existing is not None:
        ranked = candidates(existing, limit=limit, include_partial=include_partial)
        return Found(
            OpeningView.of(existing),
            True,
            ranked,
            offer_terms(clinic, existing),
            _hours(clinic, existing),
            choice=choice(clinic, existing),
            held=held_back(ranked.items, clinic, clock.now()),
        )
    who = Provider.get_by_id(parsed.provider_id)
    _booked_clash(who, starts, ends)
    draft = Opening(clinic=clinic, provider=who, starts_at=starts, ends_at=ends, source="manual")
    ranked = candidates(draft, limit=limit, include_partial=include_partial)
    return Found(
        OpeningView.of(draft),
        False,
        ranked,
        offer_terms(clinic, draft),
        _hours(clinic, draft),
        parsed,
        choice(clinic, draft),
        held_back(ranked.items, clinic, clock.now()),
    )


@dataclass(frozen=True)
class CalendarRow:
    """An appointment of the day, and what became of its time if it was cancelled; or a gap
    the desk typed in and opened (`gap`: its `appointment` stands for the open slot)."""

    appointment: AppointmentView
    opening_id: uuid.UUID | None
    opening_status: str | None
    gap: bool = False

    @property
    def can_cancel(self) -> bool:
        return self.appointment.status == vocab.APPT_BOOKED

    @property
    def open_slot(self) -> bool:
        return self.opening_status == vocab.OPENING_OPEN


def day_calendar(day: dt.date | None = None, clinic: Clinic | None = None) -> list[CalendarRow]:
    clinic = clinic or get_clinic()
    views = list_appointments(day, clinic=clinic)
    made = {
        o.appointment_id: o
        for o in Opening.select(Opening.id, Opening.appointment, Opening.status).where(
            Opening.appointment.in_([v.id for v in views])
        )
    }
    rows = [
        CalendarRow(
            v,
            made[v.id].id if v.id in made else None,
            made[v.id].status if v.id in made else None,
        )
        for v in views
    ]
    return sorted(rows + _open_gaps(day, clinic), key=lambda r: r.appointment.starts_at)


def _open_gaps(day: dt.date | None, clinic: Clinic) -> list[CalendarRow]:
    """The day's open gaps typed in by the desk (not from a cancellation): a gap offered from
    the finder was missing from its calendar, so the desk could not find it again."""
    start, end = day_bounds(day, clinic)
    gaps = (
        Opening.select(Opening, Provider)
        .join(Provider)
        .where(
            Opening.clinic == clinic,
            Opening.appointment.is_null(),
            Opening.status == vocab.OPENING_OPEN,
            Opening.starts_at >= start,
            Opening.starts_at < end,
        )
    )
    return [
        CalendarRow(
            AppointmentView(
                o.id, "", None, o.provider.code, "", o.starts_at, o.ends_at, "open", None
            ),
            o.id,
            o.status,
            gap=True,
        )
        for o in gaps
    ]


def cancel_for_waitlist(appointment_id: IdRef, actor: str) -> Found:
    """The client cancels on the phone: the appointment is cancelled and its time, still
    ahead, is the opening the finder ranks candidates for."""
    with database.atomic():
        appointment = Appointment.get_or_none(Appointment.id == appointment_id)
        now = clock.now()
        if appointment is not None and appointment.starts_at <= now:
            raise ValidationError(
                "this appointment has started; its time cannot go to the waitlist",
                field="appointment",
            )
        if appointment is not None:
            offer_time.check_in_time(
                appointment.clinic, appointment.starts_at, now, ValidationError, "appointment"
            )
        _, opening = cancel_appointment(appointment_id, actor)
    if opening is None:  # pragma: no cover - guarded above; kept for a clock moving between
        raise ValidationError("this appointment is in the past", field="appointment")
    return find_for_opening(opening.id)
