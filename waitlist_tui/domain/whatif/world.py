"""The drawn world of a what-if: which appointments are cancelled and when, and which new
entries arrive, drawn once from the clinic's copy before any setting runs, so that every
setting meets the same month. The clients' answers are drawn later, per offer, from keys
that name the client and the slot (behaviour.unit), so they too are the same in every run."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.store.models import Appointment, Provider, ProviderService, Service
from waitlist_tui.domain.whatif.behaviour import Model, unit

PARTS = ("MORNING", "AFTERNOON")


@dataclass(frozen=True)
class Cancellation:
    at: dt.datetime
    appointment_id: uuid.UUID


@dataclass(frozen=True)
class Arrival:
    at: dt.datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class World:
    seed: int
    start: dt.datetime
    end: dt.datetime
    cancellations: tuple[Cancellation, ...]
    arrivals: tuple[Arrival, ...]
    booked_in_window: int  # booked appointments the cancellations were drawn from

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "booked_in_window": self.booked_in_window,
            "cancellations": len(self.cancellations),
            "arrivals": len(self.arrivals),
        }


def cancellation_of(
    model: Model, seed: int, key: object, booked_at: dt.datetime, starts_at: dt.datetime
) -> dt.datetime | None:
    """When a booking is cancelled, or None: the chance by its lead time [VA], the notice
    drawn from the model's exponential, never before the booking."""
    lead_days = (starts_at - booked_at).total_seconds() / 86400
    if unit(seed, "cancel", key) >= model.cancel_probability(lead_days):
        return None
    at = starts_at - dt.timedelta(days=model.notice_days(unit(seed, "notice", key)))
    return max(at, booked_at + dt.timedelta(minutes=1))


def _cancellations(model: Model, seed: int, start: dt.datetime, end: dt.datetime) -> Any:
    """Each booking's draw is keyed by its provider's code and its start (a slot has one
    booking), the same in every copy of the clinic, whatever its row's id."""
    rows: Any = (
        Appointment.select(
            Appointment.id, Provider.code, Appointment.created_at, Appointment.starts_at
        )
        .join(Provider)
        .where(
            Appointment.status == vocab.APPT_BOOKED,
            Appointment.away == False,  # noqa: E712
            Appointment.starts_at > start,
            Appointment.starts_at <= end + dt.timedelta(days=60),
        )
        .order_by(Appointment.starts_at, Provider.code)
        .tuples()
    )
    found, booked = [], 0
    for appt_id, code, created_at, starts_at in rows:
        booked += starts_at <= end
        key = (code, _utc(starts_at).isoformat())
        at = cancellation_of(model, seed, key, _utc(created_at), _utc(starts_at))
        # One that would have come before the month is history: the copy holds it booked.
        if at is not None and start < at < min(end, _utc(starts_at)):
            found.append(Cancellation(at, appt_id))
    found.sort(key=lambda c: c.at)
    return tuple(found), booked


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _arrivals(model: Model, seed: int, start: dt.datetime, days: int) -> tuple[Arrival, ...]:
    clinic = get_clinic()
    zone = ZoneInfo(clinic.time_zone)
    offered = list(
        Service.select()
        .where(Service.clinic == clinic, Service.kind == "appointment", Service.active == True)  # noqa: E712
        .order_by(Service.code)
    )
    who: dict[Any, list[str]] = {}
    pairs: Any = (
        ProviderService.select(ProviderService.service, Provider.code)
        .join(Provider)
        .where(Provider.clinic == clinic, Provider.active == True)  # noqa: E712
        .order_by(Provider.code)
        .tuples()
    )
    for service_id, code in pairs:
        who.setdefault(service_id, []).append(code)
    offered = [s for s in offered if s.id in who]
    if not offered:
        return ()
    out: list[Arrival] = []
    first = start.astimezone(zone).date()
    for d in range(days):
        day = first + dt.timedelta(days=d)
        for i in range(model.arrivals(unit(seed, "arrivals", day))):
            key = (day, i)
            minutes = model.desk_opens + int(
                unit(seed, "arrive_at", key) * (model.desk_closes - model.desk_opens)
            )
            at = dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(minutes=minutes)
            at = at.astimezone(dt.UTC)
            if not start < at:
                continue
            service = offered[int(unit(seed, "service", key) * len(offered))]
            codes = who[service.id]
            payload: dict[str, Any] = {
                "client": _client(seed, key),
                "service": service.code,
                "date_range_start": day.isoformat(),
                "date_range_end": (day + dt.timedelta(days=clinic.max_span_days)).isoformat(),
                "priority": 1 + int(unit(seed, "priority", key) * 5),
            }
            if unit(seed, "picky_provider", key) < 0.4:
                payload["preferred_providers"] = [
                    codes[int(unit(seed, "provider", key) * len(codes))]
                ]
            if unit(seed, "picky_time", key) < 0.5:
                payload["preferred_time_slots"] = [PARTS[int(unit(seed, "part", key) * 2)]]
            out.append(Arrival(at, payload))
    out.sort(key=lambda a: a.at)
    return tuple(out)


def _client(seed: int, key: object) -> dict[str, Any]:
    """A new client: most reachable by SMS, some by email only (fictional names; numbers in
    a range no message ever goes to: the simulation's transport sends nothing)."""
    n = int(unit(seed, "client", key) * 7_999_999)
    client: dict[str, Any] = {"first_name": "Sim", "last_name": f"Client {n:07d}"}
    if unit(seed, "channel", key) < 0.8:
        client.update(phone=f"+1617{2_000_000 + n}", consent_sms=True, consent_email=False)
    else:
        client.update(email=f"sim{n}@example.com", consent_sms=False, consent_email=True)
    return client


def draw_world(model: Model, seed: int, start: dt.datetime, days: int) -> World:
    """The world, read from the bound database (the copy)."""
    end = start + dt.timedelta(days=days)
    cancellations, booked = _cancellations(model, seed, start, end)
    return World(seed, start, end, cancellations, _arrivals(model, seed, start, days), booked)
