"""Openings (free blocks the desk wants to fill) and the appointments they come from."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.availability import outside_hours
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    Appointment,
    Client,
    Clinic,
    Opening,
    Provider,
    ProviderService,
    Service,
)
from waitlist_tui.domain.store.prepared import PreparedFamily, param
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso
from waitlist_tui.domain.timeutil import parse_local as parse_local_time

KNOCK_ON = "knock_on"  # an opening's source: a client's later appointment, released


def provider_by_code(clinic: Clinic, code: str) -> Provider:
    code = text_value(code, "provider", max_len=64)
    found = Provider.get_or_none((Provider.clinic == clinic) & (Provider.code == code.upper()))
    if found is None:
        raise ValidationError(
            f"provider {code!r} is not a provider of this clinic", field="provider"
        )
    return found


def service_by_code(clinic: Clinic, code: str) -> Service:
    code = text_value(code, "service", max_len=64)
    found = Service.get_or_none((Service.clinic == clinic) & (Service.code == code.upper()))
    if found is None:
        raise ValidationError(f"service {code!r} is not a service of this clinic", field="service")
    return found


def get_opening(opening_id: IdRef, *, lock: bool = False) -> Opening:
    """The opening an id or prefix names; `lock` locks its row (store.locking.locked)."""
    return ids.resolve(Opening, opening_id, "opening", field="opening", lock=lock)


def parse_local(text: str | dt.datetime, tz: str, later: bool = False) -> dt.datetime:
    """'2026-11-24T09:00' on the clinic's wall clock; a skipped time is refused and an
    ambiguous one takes the earlier occurrence unless `later` (timeutil reads it)."""
    return parse_local_time(text, tz, "start", ambiguous="later" if later else "earlier")


def whole_number(value: Any, field: str, low: int, high: int) -> int:
    """A count typed or sent as JSON: an int or digits, within low..high, else a 4000."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise ValidationError(f"{field} must be a whole number {low}-{high}", field=field)
    return number


_OVERLAP = PreparedFamily(  # per model: every booking, opening and accept asks it
    lambda model: (
        model.select()
        .where(
            model.provider == param("provider"),
            model.status == param("status"),
            model.starts_at < param("ends"),
            model.ends_at > param("starts"),
        )
        .limit(1)
    )
)


def first_overlap(
    model: Any, provider: Provider, status: str, starts: dt.datetime, ends: dt.datetime
) -> Any:
    """A row of `model` (appointment or opening) of this provider overlapping [starts, ends):
    its SQL built once per model (store/prepared.py)."""
    rows = _OVERLAP(model).rows(provider=provider, status=status, starts=starts, ends=ends)
    return next(iter(rows), None)


def typed_slot(
    provider: str,
    start: str | dt.datetime,
    minutes: int | str,
    service: str | None,
    later: bool,
    clinic: Clinic,
) -> Slot:
    """A slot as the desk or the CLI types it (a provider code, the clinic's wall-clock start
    as ISO text or a naive datetime, minutes, a service code), read once into a `Slot` and
    checked (`check_slot`)."""
    who = provider_by_code(clinic, provider)
    length = whole_number(minutes, "minutes", 5, 720)
    starts = parse_local(start, clinic.time_zone, later)
    slot = Slot(who.id, starts, starts + dt.timedelta(minutes=length))
    check_slot(slot, clinic, who)
    if service:
        what = service_by_code(clinic, service)
        slot = Slot(who.id, slot.start, slot.end, what.id)
        check_slot(slot, clinic, who, what)
    return slot


def require_offers(who: Provider, what: Service) -> None:
    """The provider offers the service (an opening for it, or a booking the desk types)."""
    if (
        not ProviderService.select()
        .where(ProviderService.provider == who, ProviderService.service == what)
        .exists()
    ):
        raise ValidationError(f"{who.code} does not offer {what.code}", field="service")


def check_slot(
    slot: Slot, clinic: Clinic, who: Provider | None = None, what: Service | None = None
) -> tuple[Provider, Service | None]:
    """The rules of a slot that need no lock (its provider's and service's rows, when the
    caller holds them): the match finder previews an opening with them before anything is
    written, and `open_slot` checks them again in its transaction."""
    who = who or Provider.get_or_none(
        (Provider.id == slot.provider_id) & (Provider.clinic == clinic)
    )
    if who is None:
        raise ValidationError("provider is not a provider of this clinic", field="provider")
    if not 5 <= slot.minutes <= 720:
        raise ValidationError("minutes must be a whole number 5-720", field="minutes")
    now = clock.now()
    if slot.start <= now:
        raise ValidationError("start is in the past", field="start")
    offer_time.check_in_time(clinic, slot.start, now, ValidationError, field="start")
    if slot.service_id is None:
        return who, None
    what = what or Service.get_or_none((Service.id == slot.service_id) & (Service.clinic == clinic))
    if what is None:
        raise ValidationError("service is not a service of this clinic", field="service")
    require_offers(who, what)
    if what.duration_minutes > slot.minutes:
        raise ValidationError(
            f"{what.code} takes {what.duration_minutes} minutes, longer than the opening",
            field="minutes",
        )
    return who, what


def open_slot(
    slot: Slot, actor: str, clinic: Clinic | None = None, outside_hours_ok: bool = True
) -> Opening:
    """The slot becomes an open opening, in the caller's transaction or its own: refused
    when a booked appointment or an open opening of the provider overlaps it. With
    `outside_hours_ok` False (the CLI's default) a block outside the provider's weekly hours
    is refused, naming them."""
    clinic = clinic or get_clinic()
    who, what = check_slot(slot, clinic)
    starts, ends = slot.start, slot.end
    if not outside_hours_ok:
        off = outside_hours(who, starts, ends, clinic.time_zone)
        if off:
            raise ValidationError(f"start: {off} (--outside-hours opens it anyway)", field="start")
    now = clock.now()
    with database.atomic():
        clash = first_overlap(Appointment, who, vocab.APPT_BOOKED, starts, ends)
        if clash is not None:
            local = clash.starts_at.astimezone(ZoneInfo(clinic.time_zone))
            raise Conflict(
                f"{who.code} has an appointment at {local:%a %d %b %H:%M}",
                data={"appointment_id": str(clash.id)},
            )
        overlap = first_overlap(Opening, who, vocab.OPENING_OPEN, starts, ends)
        if overlap is not None:
            raise Conflict(
                f"an open opening already covers that time ({str(overlap.id)[:8]})",
                data={"opening_id": str(overlap.id)},
            )
        opening = Opening.create_by(
            actor,
            now,
            clinic=clinic,
            provider=who,
            service=what,
            starts_at=starts,
            ends_at=ends,
            source="manual",
        )
        audit.record(
            actor,
            "opening.create",
            "opening",
            opening.id,
            {
                "provider": [None, who.code],
                "starts_at": [None, iso(starts)],
                "minutes": [None, slot.minutes],
            },
        )
    return Opening.get_by_id(opening.id)


def add_opening(
    provider: str,
    start: str,
    minutes: int,
    actor: str,
    service: str | None = None,
    later: bool = False,
    clinic: Clinic | None = None,
    outside_hours_ok: bool = True,
) -> Opening:
    """A block typed in by the desk or the CLI (a new shift, a gap): `typed_slot`, then
    `open_slot`."""
    clinic = clinic or get_clinic()
    slot = typed_slot(provider, start, minutes, service, later, clinic)
    return open_slot(slot, actor, clinic, outside_hours_ok)


@dataclass(frozen=True)
class OpeningView:
    id: Any
    provider_code: str
    provider_name: str
    service_code: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    source: str
    workflow: str | None
    appointment_id: uuid.UUID | None
    freed_by_id: uuid.UUID | None = None  # knock-on (schema v18): the booking that freed it
    chain: str | None = None

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @classmethod
    def of(cls, opening: Opening) -> OpeningView:
        return cls(
            opening.id,
            opening.provider.code,
            opening.provider.name,
            opening.service.code if opening.service is not None else None,
            opening.starts_at,
            opening.ends_at,
            opening.status,
            opening.source,
            opening.workflow,
            opening.appointment_id,
            opening.freed_by_id,
            opening.chain,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "provider": self.provider_code,
            "provider_name": self.provider_name,
            "service": self.service_code,
            "slot_start": iso(self.starts_at),
            "slot_end": iso(self.ends_at),
            "minutes": self.minutes,
            "status": self.status,
            "source": self.source,
            "workflow_type": self.workflow,
            "appointment_id": str(self.appointment_id) if self.appointment_id else None,
            "freed_by_booking": str(self.freed_by_id) if self.freed_by_id else None,
            "chain": self.chain,
        }


def list_openings(
    status: str | None = vocab.OPENING_OPEN, clinic: Clinic | None = None, limit: int = 100
) -> list[OpeningView]:
    clinic = clinic or get_clinic()
    query = (
        Opening.select(Opening, Provider)
        .join(Provider)
        .switch(Opening)
        .where(Opening.clinic == clinic)
    )
    if status:
        if status not in (vocab.OPENING_OPEN, vocab.OPENING_FILLED, vocab.OPENING_CLOSED):
            raise ValidationError("status must be open, filled or closed", field="status")
        query = query.where(Opening.status == status)
    return [OpeningView.of(o) for o in query.order_by(Opening.starts_at).limit(limit)]


# --- appointments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentView:
    id: Any
    client_name: str
    client_phone: str | None
    provider_code: str
    service_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    entry_id: uuid.UUID | None
    from_calendar: bool = False  # read from the provider's calendar (no client on file)
    away: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "client": self.client_name,
            "phone": self.client_phone,
            "provider": self.provider_code,
            "service": self.service_code,
            "start": iso(self.starts_at),
            "end": iso(self.ends_at),
            "status": self.status,
            "entry_id": str(self.entry_id) if self.entry_id else None,
            "source": "calendar" if self.from_calendar else "desk",
            "away": self.away,
        }


def day_bounds(day: dt.date | None, clinic: Clinic) -> tuple[dt.datetime, dt.datetime]:
    """A clinic day (today by default) as a UTC [start, end) pair."""
    zone = ZoneInfo(clinic.time_zone)
    day = day or clock.today(clinic.time_zone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def appointments_query() -> Any:
    """Appointments with the client, provider and service their views name, in one query (a
    booking read from a calendar has no client, and may have no service)."""
    return (
        Appointment.select(Appointment, Client, Provider, Service)
        .join(Client, JOIN.LEFT_OUTER)
        .switch(Appointment)
        .join(Provider)
        .switch(Appointment)
        .join(Service, JOIN.LEFT_OUTER)
    )


def list_appointments(
    day: dt.date | None = None,
    provider: str | None = None,
    clinic: Clinic | None = None,
    status: str | None = None,
    limit: int = 200,
    until: dt.date | None = None,
) -> list[AppointmentView]:
    """A day's calendar (today by default), or the days from `day` to `until`, in start
    order."""
    clinic = clinic or get_clinic()
    start, end = day_bounds(day, clinic)
    if until is not None:
        if day is not None and until < day:
            raise ValidationError("to must be on or after from", field="to")
        end = day_bounds(until, clinic)[1]
    query = appointments_query().where(
        Appointment.clinic == clinic,
        Appointment.starts_at >= start,
        Appointment.starts_at < end,
    )
    if provider:
        query = query.where(Appointment.provider == provider_by_code(clinic, provider))
    if status:
        query = query.where(Appointment.status == status)
    return [
        appointment_view(a)
        for a in query.order_by(Appointment.starts_at, Provider.code).limit(limit)
    ]


UNKNOWN_SERVICE = "unknown"


def appointment_view(a: Appointment) -> AppointmentView:
    client, service = a.client, a.service
    if client is None:
        name, phone = (a.summary or ("away" if a.away else "calendar booking")), None
    else:
        name, phone = f"{client.first_name} {client.last_name}", client.phone
    return AppointmentView(
        a.id,
        name,
        phone,
        a.provider.code,
        service.code if service is not None else UNKNOWN_SERVICE,
        a.starts_at,
        a.ends_at,
        a.status,
        a.entry_id,
        a.calendar_source_id is not None,
        bool(a.away),
    )


def entry_appointment(entry_id: IdRef) -> AppointmentView | None:
    """The appointment a booked entry got (the newest, should it have been rebooked)."""
    found = (
        appointments_query()
        .where(Appointment.entry == entry_id)
        .order_by(Appointment.created_at.desc())
        .first()
    )
    return appointment_view(found) if found else None


def cancel_appointment(appointment_id: IdRef, actor: str) -> tuple[Appointment, Opening | None]:
    """The client cancels: the appointment is cancelled and, if still before the clinic's
    notice cutoff (offer_time), its time becomes an open opening (same provider, service and
    times) for the waitlist."""
    now = clock.now()
    with database.atomic():
        try:
            appt = ids.resolve(Appointment, appointment_id, "appointment", field="appointment")
        except NotFound:
            raise NotFound("appointment not found", field="appointment") from None
        if appt.status != vocab.APPT_BOOKED:
            raise Conflict(f"appointment is {appt.status}", data={"status": appt.status})
        opening = cancel_locked(appt, actor, now, open_time=not appt.away)
    return Appointment.get_by_id(appt.id), (Opening.get_by_id(opening.id) if opening else None)


def cancel_locked(
    appt: Appointment,
    actor: str,
    now: dt.datetime,
    *,
    why: str = "",
    open_time: bool = True,
    freed_by: Appointment | None = None,
    chain: str | None = None,
) -> Opening | None:
    """Cancel a booked appointment in the caller's transaction (a desk's cancellation, a
    calendar that took it back, or a knock-on release: `freed_by` the earlier booking that
    released it, `chain` the chain's first opening), and open its time unless `open_time` is
    off or the slot is past the clinic's notice cutoff. The row's version must still be the
    one read."""
    rows = (
        Appointment.update_by(
            actor,
            now,
            status=vocab.APPT_CANCELLED,
            cancelled_at=now,
            version=Appointment.version + 1,
        )
        .where(
            Appointment.id == appt.id,
            Appointment.version == appt.version,
            Appointment.status == vocab.APPT_BOOKED,
        )
        .execute()
    )
    if rows != 1:
        raise Conflict("appointment was changed by someone else; reload it")
    detail: dict[str, Any] = {"status": [vocab.APPT_BOOKED, vocab.APPT_CANCELLED]}
    if why:
        detail["why"] = [None, why]
    audit.record(actor, "appointment.cancel", "appointment", appt.id, detail)
    if not open_time or offer_time.is_too_late(appt.clinic, appt.starts_at, now):
        return None
    opening = Opening.create_by(
        actor,
        now,
        clinic=appt.clinic_id,
        provider=appt.provider_id,
        service=appt.service_id,
        appointment=appt.id,
        starts_at=appt.starts_at,
        ends_at=appt.ends_at,
        source="cancellation" if freed_by is None else KNOCK_ON,
        freed_by=freed_by,
        chain=chain,
    )
    detail = {"appointment": [None, str(appt.id)]}
    if freed_by is not None:
        detail.update(freed_by=[None, str(freed_by.id)], chain=[None, chain])
    audit.record(actor, "opening.create", "opening", opening.id, detail)
    return opening
