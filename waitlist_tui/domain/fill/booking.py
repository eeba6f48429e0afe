"""A booking the desk types (`appointments add`): the client on the phone takes a free time
directly. It blocks the provider's time like any appointment; the waitlist's own bookings
come from accepted offers (fill.offers), a calendar's from its sync (calendar.sync)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.fill.openings import (
    AppointmentView,
    appointment_view,
    appointments_query,
    first_overlap,
    parse_local,
    provider_by_code,
    require_offers,
    service_by_code,
    whole_number,
)
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    Appointment,
    Client,
    Clinic,
    Opening,
    Provider,
)


def add_appointment(
    clinic: Clinic,
    client_ref: Any,
    provider: str,
    service: str,
    start: str,
    actor: str,
    minutes: int | str | None = None,
    later: bool = False,
) -> AppointmentView:
    """Book `client_ref` (a client id or prefix) with `provider` for `service` at the clinic's
    wall-clock `start`, for the service's length unless `minutes` says. Refused, naming the
    field, when the time is past, the provider does not offer the service, or the time
    overlaps a booking or an open opening of theirs; one transaction with its audit row."""
    who = provider_by_code(clinic, provider)
    what = service_by_code(clinic, service)
    length = whole_number(
        minutes if minutes is not None else what.duration_minutes, "minutes", 5, 720
    )
    starts = parse_local(start, clinic.time_zone, later)
    ends = starts + dt.timedelta(minutes=length)
    now = clock.now()
    if starts <= now:
        raise ValidationError("start is in the past", field="start")
    require_offers(who, what)
    with database.atomic():
        try:
            client = ids.resolve(
                Client,
                client_ref,
                "client",
                field="client",
                query=Client.select().where(Client.clinic == clinic),
            )
        except NotFound:
            raise NotFound("client not found", field="client") from None
        locked(Provider.select().where(Provider.id == who.id)).first()  # one booking at a time
        for model, what_is in ((Appointment, "booked"), (Opening, "an open slot")):
            status = vocab.APPT_BOOKED if model is Appointment else vocab.OPENING_OPEN
            clash = first_overlap(model, who, status, starts, ends)
            if clash is not None:
                at = clash.starts_at.astimezone(ZoneInfo(clinic.time_zone))
                raise Conflict(f"{who.code} is {what_is} from {at:%a %d %b %H:%M}", field="start")
        row = Appointment.create_by(
            actor,
            now,
            clinic=clinic.id,
            client=client.id,
            provider=who.id,
            service=what.id,
            starts_at=starts,
            ends_at=ends,
        )
        audit.record(
            actor, "appointment.add", "appointment", row.id, {"status": [None, vocab.APPT_BOOKED]}
        )
    return appointment_view(appointments_query().where(Appointment.id == row.id).get())
