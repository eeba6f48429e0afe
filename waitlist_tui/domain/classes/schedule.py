"""Putting a class or group session on the calendar: an event service at a wall-clock time,
optionally with the provider who leads it, and the number of seats.

The instance takes the service's length. A provider leading it must offer the service and
be free then (no booked appointment, no other session). Enrolments and waitlists are
seats.py's; this only creates the instance, in one transaction with its audit row.
"""

from __future__ import annotations

import datetime as dt

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.classes.instances import InstanceView, get_instance
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill.openings import (
    first_overlap,
    parse_local,
    provider_by_code,
    whole_number,
)
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    Appointment,
    Clinic,
    EventInstance,
    Provider,
    ProviderService,
    Service,
)
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso

MAX_CAPACITY = 500


def _event_service(clinic: Clinic, code: str) -> Service:
    code = text_value(code, "service", max_len=64)
    service = Service.get_or_none((Service.clinic == clinic) & (Service.code == code.upper()))
    if service is None:
        raise ValidationError(f"service {code!r} does not exist", field="service")
    if service.kind != "event":
        raise ValidationError(
            f"{service.code} is an appointment service; classes need an event service",
            field="service",
        )
    return service


def _busy(provider: Provider, starts: dt.datetime, ends: dt.datetime) -> str | None:
    if first_overlap(Appointment, provider, vocab.APPT_BOOKED, starts, ends) is not None:
        return "has a booked appointment then"
    if first_overlap(EventInstance, provider, "scheduled", starts, ends) is not None:
        return "leads another session then"
    return None


def schedule(
    service: str,
    start: str,
    capacity: int,
    actor: str,
    provider: str | None = None,
    later: bool = False,
    clinic: Clinic | None = None,
) -> InstanceView:
    clinic = clinic or get_clinic()
    what = _event_service(clinic, service)
    capacity = whole_number(capacity, "capacity", 1, MAX_CAPACITY)
    starts = parse_local(start, clinic.time_zone, later)
    if starts <= clock.now():
        raise ValidationError("start is in the past", field="start")
    ends = starts + dt.timedelta(minutes=what.duration_minutes)
    with database.atomic():
        who = None
        if provider:
            who = provider_by_code(clinic, provider)
            offers = ProviderService.select().where(
                ProviderService.provider == who, ProviderService.service == what
            )
            if not offers.exists():
                raise ValidationError(f"{who.code} does not lead {what.code}", field="provider")
            clash = _busy(who, starts, ends)
            if clash:
                raise Conflict(f"{who.code} {clash}", field="provider")
        instance = EventInstance.create(
            clinic=clinic,
            service=what,
            provider=who,
            starts_at=starts,
            ends_at=ends,
            capacity=int(capacity),
        )
        audit.record(
            actor,
            "event.schedule",
            "event_instance",
            instance.id,
            {
                "service": [None, what.code],
                "starts_at": [None, iso(starts)],
                "capacity": [None, int(capacity)],
                "provider": [None, who.code if who else None],
            },
        )
    return get_instance(instance.id)
