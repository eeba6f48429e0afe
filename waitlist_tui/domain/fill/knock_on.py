"""Knock-on fill: a client who takes an earlier slot gives their later appointment back.

When an offer is accepted (offer_replies.accept), in the same transaction: the entry's later
appointment (one linked to the entry, or the client's booking at `original_appointment_at`)
is cancelled, its time becomes an opening (source `knock_on`) that names the booking that
freed it and the chain it belongs to (the chain's first opening), and, when the clinic's
`[calendar] auto_offer` says so, it is offered at once through the one offer path
(`sending.offer`: the workflow the clinic or its lead-time rules choose, min notice, quiet
hours and consent as anywhere). An entry marked `keep_later_appointment` releases nothing.
A later appointment past the clinic's notice cutoff is still cancelled (the client moved)
but opens nothing: no opening is created past its deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill.offer_views import OfferView
from waitlist_tui.domain.fill.openings import cancel_locked
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import Appointment, AuditEvent, Clinic, Entry, Opening
from waitlist_tui.domain.store.prepared import Prepared, param

DAY = 86400.0
ACTION = "appointment.knock_on"


@dataclass(frozen=True)
class Release:
    """What one accept released: the later appointment, the opening it became (None when too
    late to offer), the chain, how many days sooner the client is seen, offers sent."""

    appointment_id: Any
    opening_id: Any | None
    chain: str
    days_sooner: float
    offers: tuple[OfferView, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "released_appointment_id": str(self.appointment_id),
            "opening_id": str(self.opening_id) if self.opening_id else None,
            "chain": self.chain,
            "days_sooner": self.days_sooner,
            "offers": [o.to_dict() for o in self.offers],
        }


def auto_offer(clinic: Clinic) -> bool:
    """The clinic offers a freed time at once (`[calendar] auto_offer`: a calendar's
    cancellation and a knock-on release alike)."""
    return bool(((clinic.settings or {}).get("calendar") or {}).get("auto_offer", False))


def _later() -> Any:
    return Appointment.select().where(
        Appointment.status == vocab.APPT_BOOKED, Appointment.starts_at > param("earlier")
    )


# Asked on every accept: their SQL built once (store/prepared.py).
_LINKED = Prepared(
    lambda: locked(
        _later().where(Appointment.entry == param("entry")).order_by(Appointment.starts_at)
    ).limit(1)
)
_ORIGINAL = Prepared(
    lambda: locked(
        _later().where(
            Appointment.client == param("client"), Appointment.starts_at == param("original")
        )
    ).limit(1)
)


def later_appointment(entry: Entry, earlier: dt.datetime) -> Appointment | None:
    """The entry's booked appointment starting after `earlier`, locked: one linked to the
    entry, else the client's booking at `original_appointment_at` (any provider)."""
    found: Appointment | None = next(iter(_LINKED.rows(earlier=earlier, entry=entry.id)), None)
    if found is None and entry.original_appointment_at is not None:
        rows = _ORIGINAL.rows(
            earlier=earlier, client=entry.client_id, original=entry.original_appointment_at
        )
        found = next(iter(rows), None)
    return found


def offer_released(opening_id: Any, actor: str) -> list[OfferView]:
    """The one way a released time is offered automatically: the ordinary offer (the
    workflow the opening's lead time and the clinic choose). Its own savepoint: nobody to
    offer it to, or a refusal, leaves the release and the booking in place."""
    from waitlist_tui.domain.fill.sending import offer

    try:
        with database.atomic():
            return offer(opening_id, actor)
    except DomainError:
        return []


def released(appointment_ids: list[Any]) -> set[str]:
    """Which of these appointments a knock-on released (their ids as text): the client took
    an earlier time, so a calendar that still lists the old one must not book it again."""
    keys = [str(i) for i in appointment_ids]
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        found.update(
            e.object_id
            for e in AuditEvent.select(AuditEvent.object_id).where(
                AuditEvent.object_type == "appointment",
                AuditEvent.action == ACTION,
                AuditEvent.object_id.in_(keys[i : i + 500]),
            )
        )
    return found


def release_later(
    entry: Entry, booking: Appointment, filled: Opening, actor: str, now: dt.datetime
) -> Release | None:
    """In the accept's transaction: release the entry's later appointment (module docstring).
    None when the entry keeps it or holds none."""
    if entry.keep_later_appointment:
        return None
    later = later_appointment(entry, booking.starts_at)
    if later is None:
        return None
    chain = filled.chain or str(filled.id)
    opening = cancel_locked(later, actor, now, why=KNOCK_ON_WHY, freed_by=booking, chain=chain)
    days = round((later.starts_at - booking.starts_at).total_seconds() / DAY, 1)
    audit.record(
        actor,
        ACTION,
        "appointment",
        later.id,
        {
            "freed_by": [None, str(booking.id)],
            "opening": [None, str(opening.id) if opening else None],
            "chain": [None, chain],
            "days_sooner": [None, days],
        },
    )
    offers: tuple[OfferView, ...] = ()
    if opening is not None and auto_offer(Clinic.get_by_id(entry.clinic_id)):
        offers = tuple(offer_released(opening.id, actor))
    return Release(later.id, opening.id if opening else None, chain, days, offers)


KNOCK_ON_WHY = "moved to an earlier slot (knock-on)"


@dataclass(frozen=True)
class FreedBy:
    """Which booking freed a knock-on opening: whose, when, and the time it gave back."""

    booking_id: Any
    client: str
    booked_start: dt.datetime
    released_start: dt.datetime
    days_sooner: float
    chain: str | None

    def to_dict(self) -> dict[str, Any]:
        from waitlist_tui.domain.timeutil import iso

        return {
            "booking_id": str(self.booking_id),
            "client": self.client,
            "booked_start": iso(self.booked_start),
            "released_start": iso(self.released_start),
            "days_sooner": self.days_sooner,
            "chain": self.chain,
        }


def freed_by(opening: Opening) -> FreedBy | None:
    """The booking that freed `opening` (None unless a knock-on release made it)."""
    if opening.freed_by_id is None:
        return None
    booking = Appointment.get_or_none(Appointment.id == opening.freed_by_id)
    if booking is None:
        return None
    client = booking.client
    name = f"{client.first_name} {client.last_name}" if client is not None else ""
    days = round((opening.starts_at - booking.starts_at).total_seconds() / DAY, 1)
    return FreedBy(booking.id, name, booking.starts_at, opening.starts_at, days, opening.chain)


def opening_detail(opening_id: Any) -> dict[str, Any]:
    """`openings show`: the opening, the booking that freed it (knock-on), and the openings
    its own booking freed in turn."""
    from waitlist_tui.domain.fill.openings import OpeningView, get_opening

    opening = get_opening(opening_id)
    data = OpeningView.of(opening).to_dict()
    who = freed_by(opening)
    data["freed_by"] = who.to_dict() if who else None
    booked = Appointment.select(Appointment.id).where(
        Appointment.starts_at == opening.starts_at,
        Appointment.provider == opening.provider_id,
        Appointment.created_at >= opening.created_at,
    )
    later = (
        Opening.select()
        .where(Opening.freed_by.in_(booked), Opening.id != opening.id)
        .order_by(Opening.starts_at)
    )
    data["freed"] = [OpeningView.of(o).to_dict() for o in later]
    return data
