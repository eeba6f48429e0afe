"""The desk's answers to a sent offer: accept (book it), decline, rescind. Each locks the
opening, then re-reads the offer, so what another desk did first is seen here; an opening is
filled at most once, whatever the number of desks racing: the conditional moves check their
row counts and the partial unique index refuses a second accepted offer. An accept takes the
provider's row lock too (as a typed booking does, fill.booking) and is refused when a booking
of theirs overlaps the time: two openings opened at once over the same time by two desks, or
a booking typed while the opening was being opened, never book the provider twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.ending import (
    DECLINED,
    FILLED_BY_OTHER,
    RESCINDED,
    end_offer,
    live_offers,
)
from waitlist_tui.domain.fill.knock_on import Release, release_later
from waitlist_tui.domain.fill.offer_views import (
    FILLED,
    OfferView,
    get_offer,
    lock_offer,
    reply_note,
)
from waitlist_tui.domain.fill.openings import first_overlap
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    Appointment,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.store.prepared import Prepared, param
from waitlist_tui.domain.store.transitions import move
from waitlist_tui.domain.timeutil import iso


@dataclass(frozen=True)
class Reply:
    offer: OfferView
    appointment_id: IdRef | None = None
    next_offers: tuple[OfferView, ...] = ()
    knock_on: Release | None = None  # the later appointment the client gave back

    def to_dict(self) -> dict[str, Any]:
        return {
            "offer": self.offer.to_dict(),
            "appointment_id": str(self.appointment_id) if self.appointment_id else None,
            "next_offers": [o.to_dict() for o in self.next_offers],
            "knock_on": self.knock_on.to_dict() if self.knock_on else None,
        }


def _checked(offer_id: IdRef, now: dt.datetime) -> tuple[Offer, Opening]:
    """The locked offer (lock_offer), refused unless it is still sent on an open opening."""
    current, opening = lock_offer(offer_id)
    if opening.status == vocab.OPENING_FILLED and current.status != vocab.OFFER_ACCEPTED:
        raise Conflict(FILLED, data={"offer_status": current.status})
    if current.status != vocab.OFFER_SENT:
        raise Conflict(f"offer is {current.status}", data={"offer_status": current.status})
    if opening.status != vocab.OPENING_OPEN:
        raise Conflict(f"opening is {opening.status}")
    return current, opening


# An accept's own reads, their SQL built once (store/prepared.py): the provider it locks, the
# entry with the client and service its booking names.
_PROVIDER = Prepared(
    lambda: locked(Provider.select().where(Provider.id == param("provider")), no_key=True)
)
_ENTRY = Prepared(
    lambda: (
        Entry.select(Entry, Client, Service)
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(Entry.id == param("entry"))
        .limit(1)
    )
)


def _provider_free(opening: Opening, ends: dt.datetime) -> Provider:
    """Lock the opening's provider (one booking of theirs at a time; FOR NO KEY UPDATE, so
    desks opening and offering other times of theirs meanwhile do not wait for it) and refuse
    when a booking of theirs overlaps [the opening's start, `ends`)."""
    who: Provider = _PROVIDER.get(provider=opening.provider_id)
    clash = first_overlap(Appointment, who, vocab.APPT_BOOKED, opening.starts_at, ends)
    if clash is not None:
        raise Conflict(
            f"{who.code} was booked at that time meanwhile; close the opening",
            data={"appointment_id": str(clash.id)},
        )
    return who


def accept(offer_id: IdRef, actor: str) -> Reply:
    """Book it: offer accepted, appointment booked, entry booked, opening filled and every other
    live offer of the opening rescinded, in one transaction."""
    now = clock.now()
    try:
        with database.atomic():
            current, opening = _checked(offer_id, now)
            # read by key through its prepared SQL and kept on the opening, as the provider
            # below: the booking's message reads both there (a lazy load builds its SQL)
            opening.clinic = Clinic.get_by_id(opening.clinic_id)
            offer_time.check_in_time(opening.clinic, opening.starts_at, now)
            if current.expires_at <= now:
                raise Conflict("offer expired", data={"expires_at": iso(current.expires_at)})
            if not move(
                Offer,
                current.id,
                vocab.OFFER_SENT,
                vocab.OFFER_ACCEPTED,
                actor,
                now,
                responded_at=now,
            ):
                raise Conflict(FILLED)
            if not move(
                Opening,
                opening.id,
                vocab.OPENING_OPEN,
                vocab.OPENING_FILLED,
                actor,
                now,
                filled_at=now,
            ):
                raise Conflict(FILLED)
            entry = _ENTRY.get(entry=current.entry_id)  # with the client and service
            service = entry.service
            ends = opening.starts_at + dt.timedelta(minutes=service.duration_minutes)
            opening.provider = _provider_free(opening, ends)
            appointment = Appointment.create_by(
                actor,
                now,
                clinic=opening.clinic_id,
                client=entry.client_id,
                provider=opening.provider_id,
                service=service.id,
                entry=entry.id,
                starts_at=opening.starts_at,
                ends_at=ends,
                status=vocab.APPT_BOOKED,
            )
            if not move(Entry, entry.id, vocab.OFFERED, vocab.BOOKED, actor, now, booked_at=now):
                raise Conflict("waitlist request changed meanwhile; look again")
            for other in live_offers(opening.id):
                end_offer(other, FILLED_BY_OTHER, actor, now, note=FILLED)
            released = release_later(entry, appointment, opening, actor, now)
            audit.record(
                actor,
                "offer.accept",
                "offer",
                current.id,
                {
                    "status": [vocab.OFFER_SENT, vocab.OFFER_ACCEPTED],
                    "appointment": [None, str(appointment.id)],
                },
            )
            parties = outbox.SlotParties(
                opening.clinic, entry.client, service, opening.provider, opening.starts_at
            )
            outbox.tell_offer(current, "booked", parties, actor, now)
    except IntegrityError:
        raise Conflict(FILLED) from None
    return Reply(get_offer(current.id), appointment.id, knock_on=released)


def decline(offer_id: IdRef, actor: str, note: str = "", cause: str = DECLINED) -> Reply:
    """The client says no (or opted out: cause opted_out): back to waiting; SEQUENTIAL moves
    on to the next candidate."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        current, _ = _checked(offer_id, now)
        ended = end_offer(current, cause, actor, now, note)
    following = ended.next_offers if ended else ()
    return Reply(get_offer(current.id), None, following)


def rescind(offer_id: IdRef, actor: str, note: str = "") -> Reply:
    """The desk withdraws an offer; the entry waits again (no automatic next offer)."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        current, _ = _checked(offer_id, now)
        end_offer(current, RESCINDED, actor, now, note)
    return Reply(get_offer(current.id))
