"""Offers: send an opening to the best candidate (SEQUENTIAL) or the top N (BROADCAST), and
take the replies. An opening is filled at most once whatever the number of desks racing:
accepting locks the opening row (PostgreSQL FOR UPDATE; SQLite write transactions are
IMMEDIATE), moves each row with a conditional update checked by its row count, and the partial
unique index refuses a second accepted offer for the same opening.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError, fn

from waitlist_tui.domain import audit, clock, ids, message_settings, outbox, vocab
from waitlist_tui.domain.clinics import get_clinic
from waitlist_tui.domain.db import database
from waitlist_tui.domain.entry_views import iso
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.matching import Candidate, candidates
from waitlist_tui.domain.models import (
    Appointment,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.openings import get_opening
from waitlist_tui.domain.transitions import move

FILLED = "opening already filled"


@dataclass(frozen=True)
class OfferView:
    id: Any
    opening_id: Any
    entry_id: Any
    status: str
    match_type: str
    client_name: str
    phone: str | None
    provider_code: str
    service_code: str
    slot_start: dt.datetime
    slot_end: dt.datetime
    sent_at: dt.datetime
    expires_at: dt.datetime
    responded_at: dt.datetime | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "invite_id": str(self.id),
            "opening_id": str(self.opening_id),
            "entry_id": str(self.entry_id),
            "status": self.status,
            "match_type": self.match_type,
            "client": self.client_name,
            "phone": self.phone,
            "provider": self.provider_code,
            "service": self.service_code,
            "slot_start": iso(self.slot_start),
            "slot_end": iso(self.slot_end),
            "sent_at": iso(self.sent_at),
            "expires_at": iso(self.expires_at),
            "responded_at": iso(self.responded_at),
            "note": self.note,
        }


def _views(query) -> list[OfferView]:
    rows = (
        query.select(Offer, Opening, Entry, Client, Provider, Service)
        .join(Opening)
        .join(Provider)
        .switch(Offer)
        .join(Entry)
        .join(Client)
        .switch(Entry)
        .join(Service)
    )
    return [
        OfferView(
            o.id,
            o.opening_id,
            o.entry_id,
            o.status,
            o.match_type,
            f"{o.entry.client.first_name} {o.entry.client.last_name}",
            o.entry.client.phone,
            o.opening.provider.code,
            o.entry.service.code,
            o.opening.starts_at,
            o.opening.ends_at,
            o.sent_at,
            o.expires_at,
            o.responded_at,
            o.note,
        )
        for o in rows
    ]


def get_offer(offer_id: Any) -> OfferView:
    offer = _resolve(offer_id)
    return _views(Offer.select().where(Offer.id == offer.id))[0]


def list_offers(
    status: str | None = vocab.OFFER_SENT,
    opening: Any = None,
    entry: Any = None,
    clinic: Clinic | None = None,
    limit: int = 200,
) -> list[OfferView]:
    """Soonest to expire first: the order the desk works through replies."""
    clinic = clinic or get_clinic()
    query = Offer.select().join(Opening).where(Opening.clinic == clinic)
    if status:
        if status not in vocab.OFFER_STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(vocab.OFFER_STATUSES)}", field="status"
            )
        query = query.where(Offer.status == status)
    if opening is not None:
        query = query.where(Offer.opening == get_opening(opening).id)
    if entry is not None:
        query = query.where(Offer.entry == ids.resolve(Entry, entry, "waitlist request").id)
    ids_ = [o.id for o in query.order_by(Offer.expires_at, Offer.id).limit(limit)]
    views = {v.id: v for v in _views(Offer.select().where(Offer.id.in_(ids_)))} if ids_ else {}
    return [views[i] for i in ids_]


def _resolve(offer_id: Any) -> Offer:
    try:
        return ids.resolve(Offer, offer_id, "offer", field="offer")
    except NotFound:
        raise NotFound("offer not found", field="offer") from None


def _send(
    opening: Opening, entry_id: Any, match_type: str, hold: int, actor: str, now: dt.datetime
) -> Offer:
    if not move(Entry, entry_id, vocab.WAITING, vocab.OFFERED, actor, now):
        raise Conflict(
            "waitlist request changed meanwhile; look again", data={"entry": str(entry_id)}
        )
    offer = Offer.create(
        opening=opening,
        entry=entry_id,
        status=vocab.OFFER_SENT,
        match_type=match_type,
        sent_at=now,
        expires_at=now + dt.timedelta(minutes=hold),
        created_by=actor,
        updated_by=actor,
    )
    audit.record(
        actor,
        "offer.send",
        "offer",
        offer.id,
        {
            "opening": [None, str(opening.id)],
            "entry": [None, str(entry_id)],
            "match_type": [None, match_type],
        },
    )
    outbox.tell_offer(offer, "offer", actor, now)
    return offer


def _offers_today(client_ids: list[Any], clinic: Clinic, now: dt.datetime) -> dict[Any, int]:
    since = message_settings.day_start(now, clinic.time_zone)
    rows = (
        Offer.select(Entry.client, fn.COUNT(Offer.id))
        .join(Entry)
        .where(Entry.client.in_(client_ids), Offer.sent_at >= since)
        .group_by(Entry.client)
        .tuples()
    )
    return dict(rows)


def _under_cap(chosen: list[Candidate], n: int, clinic: Clinic, now: dt.datetime) -> list:
    """The first n candidates whose client stays within the clinic's daily offer limit,
    counting the offers this call makes too."""
    cap = message_settings.of(clinic).max_offers_per_day
    if not cap:
        return chosen[:n]
    counts = _offers_today([c.client_id for c in chosen], clinic, now)
    kept: list[Candidate] = []
    for c in chosen:
        if counts.get(c.client_id, 0) < cap and len(kept) < n:
            kept.append(c)
            counts[c.client_id] = counts.get(c.client_id, 0) + 1
    return kept


def _best_under_cap(opening: Opening, n: int, clinic: Clinic, now: dt.datetime) -> list:
    """The top n candidates, passing over clients at their daily offer limit."""
    limit = n
    while True:
        found = candidates(opening, limit=limit).items
        kept = _under_cap(found, n, clinic, now)
        if len(kept) >= n or len(found) < limit or limit >= 500:
            return kept
        limit = min(500, limit * 4 + 20)


def offer(
    opening_id: Any,
    actor: str,
    workflow: str | None = None,
    top: int | None = None,
    entry_id: Any = None,
    hold_minutes: int | None = None,
) -> list[OfferView]:
    """Offer an opening: to one entry from the candidate list, to the best candidate
    (SEQUENTIAL), or to the top N at once (BROADCAST). Returns the offers sent (none when
    nobody can take it)."""
    now = clock.now()
    try:
        with database.atomic():
            opening = get_opening(opening_id, for_update=True)
            if opening.status != vocab.OPENING_OPEN:
                raise Conflict(
                    FILLED
                    if opening.status == vocab.OPENING_FILLED
                    else f"opening is {opening.status}"
                )
            clinic = opening.clinic
            flow = str(workflow or opening.workflow or clinic.default_workflow).upper()
            if flow not in vocab.WORKFLOWS:
                raise ValidationError("workflow must be SEQUENTIAL or BROADCAST", field="workflow")
            hold = clinic.offer_hold_minutes if hold_minutes is None else int(hold_minutes)
            if not 5 <= hold <= 10080:
                raise ValidationError("hold_minutes must be 5-10080", field="hold_minutes")
            live = (
                Offer.select()
                .where(Offer.opening == opening, Offer.status == vocab.OFFER_SENT)
                .count()
            )
            if entry_id is not None:
                try:
                    entry = ids.resolve(Entry, entry_id, "waitlist request", field="entry")
                except NotFound:
                    raise NotFound("waitlist request not found", field="entry") from None
                if entry.status != vocab.WAITING:
                    raise Conflict(
                        f"waitlist request is {entry.status}", data={"status": entry.status}
                    )
                chosen = candidates(opening, limit=1, only_entry=entry.id).items
                if not chosen:
                    raise ValidationError(
                        "this entry cannot take this opening (service, provider, date range, "
                        "or it was offered this opening before)",
                        field="entry",
                    )
                if not _under_cap(chosen, 1, clinic, now):
                    cap = message_settings.of(clinic).max_offers_per_day
                    raise Conflict(
                        f"this client has had {cap} offers today, the clinic's daily limit",
                        field="entry",
                        data={"max_offers_per_day": cap},
                    )
            elif flow == vocab.SEQUENTIAL:
                if live:
                    raise Conflict(
                        "opening already has a live offer; sequential offers go one at a time"
                    )
                chosen = _best_under_cap(opening, 1, clinic, now)
            else:
                n = clinic.broadcast_top_n if top is None else int(top)
                if not 1 <= n <= 50:
                    raise ValidationError("broadcast to 1-50 entries", field="top")
                chosen = _best_under_cap(opening, n, clinic, now)
            sent = [_send(opening, c.entry_id, c.match_type, hold, actor, now) for c in chosen]
            if sent and opening.workflow != flow:
                Opening.update(
                    workflow=flow, updated_at=now, updated_by=actor, version=Opening.version + 1
                ).where(Opening.id == opening.id).execute()
    except IntegrityError:
        raise Conflict("an entry already holds a live offer; look again") from None
    if not sent:
        return []
    views = {v.id: v for v in _views(Offer.select().where(Offer.id.in_([o.id for o in sent])))}
    return [views[o.id] for o in sent]  # in candidate order, best first


def _release(offer: Offer, status: str, actor: str, now: dt.datetime, note: str = "") -> bool:
    """sent -> declined/expired/rescinded, the entry back to waiting; False if it moved on."""
    if not move(Offer, offer.id, vocab.OFFER_SENT, status, actor, now, responded_at=now, note=note):
        return False
    move(Entry, offer.entry_id, vocab.OFFERED, vocab.WAITING, actor, now)
    audit.record(
        actor, f"offer.{status}", "offer", offer.id, {"status": [vocab.OFFER_SENT, status]}
    )
    if status == vocab.OFFER_EXPIRED:
        outbox.tell_offer(offer, "offer_expired", actor, now)
    return True


def _advance(opening: Opening, actor: str) -> list[OfferView]:
    """SEQUENTIAL: when the live offer ends, the next candidate gets the opening."""
    if (opening.workflow or opening.clinic.default_workflow) != vocab.SEQUENTIAL:
        return []
    if Offer.select().where(Offer.opening == opening, Offer.status == vocab.OFFER_SENT).exists():
        return []
    return offer(opening.id, actor, workflow=vocab.SEQUENTIAL)


@dataclass(frozen=True)
class Reply:
    offer: OfferView
    appointment_id: Any = None
    next_offers: tuple[OfferView, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "offer": self.offer.to_dict(),
            "appointment_id": str(self.appointment_id) if self.appointment_id else None,
            "next_offers": [o.to_dict() for o in self.next_offers],
        }


def _checked(offer_id: Any, now: dt.datetime) -> tuple[Offer, Opening]:
    """Lock the opening, then re-read the offer: what another desk did first is seen here."""
    found = _resolve(offer_id)
    opening = get_opening(found.opening_id, for_update=True)
    current = Offer.get_by_id(found.id)
    if opening.status == vocab.OPENING_FILLED and current.status != vocab.OFFER_ACCEPTED:
        raise Conflict(FILLED, data={"offer_status": current.status})
    if current.status != vocab.OFFER_SENT:
        raise Conflict(f"offer is {current.status}", data={"offer_status": current.status})
    if opening.status != vocab.OPENING_OPEN:
        raise Conflict(f"opening is {opening.status}")
    return current, opening


def accept(offer_id: Any, actor: str) -> Reply:
    """Book it: offer accepted, appointment booked, entry booked, opening filled and every other
    live offer of the opening rescinded, in one transaction."""
    now = clock.now()
    try:
        with database.atomic():
            current, opening = _checked(offer_id, now)
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
            entry = Entry.get_by_id(current.entry_id)
            service = Service.get_by_id(entry.service_id)
            appointment = Appointment.create(
                clinic=opening.clinic_id,
                client=entry.client_id,
                provider=opening.provider_id,
                service=service.id,
                entry=entry.id,
                starts_at=opening.starts_at,
                ends_at=opening.starts_at + dt.timedelta(minutes=service.duration_minutes),
                status=vocab.APPT_BOOKED,
                created_at=now,
                updated_at=now,
                created_by=actor,
                updated_by=actor,
            )
            if not move(Entry, entry.id, vocab.OFFERED, vocab.BOOKED, actor, now, booked_at=now):
                raise Conflict("waitlist request changed meanwhile; look again")
            for other in Offer.select().where(
                Offer.opening == opening, Offer.status == vocab.OFFER_SENT
            ):
                _release(other, vocab.OFFER_RESCINDED, actor, now, note=FILLED)
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
            outbox.tell_offer(current, "booked", actor, now)
    except IntegrityError:
        raise Conflict(FILLED) from None
    return Reply(get_offer(current.id), appointment.id)


def decline(offer_id: Any, actor: str, note: str = "") -> Reply:
    """The client says no: back to waiting; SEQUENTIAL moves on to the next candidate."""
    now = clock.now()
    with database.atomic():
        current, opening = _checked(offer_id, now)
        _release(current, vocab.OFFER_DECLINED, actor, now, note)
        following = _advance(opening, actor)
    return Reply(get_offer(current.id), None, tuple(following))


def rescind(offer_id: Any, actor: str, note: str = "") -> Reply:
    """The desk withdraws an offer; the entry waits again (no automatic next offer)."""
    now = clock.now()
    with database.atomic():
        current, _ = _checked(offer_id, now)
        _release(current, vocab.OFFER_RESCINDED, actor, now, note)
    return Reply(get_offer(current.id))


def expire_offers(now: dt.datetime | None = None, actor: str = "system") -> dict[str, int]:
    """Sent offers past their hold expire; SEQUENTIAL openings go to the next candidate.
    Each offer is its own transaction with conditional updates, so this is safe from cron
    while desks work."""
    now = now or clock.now()
    due = [
        o.id
        for o in Offer.select(Offer.id).where(
            Offer.status == vocab.OFFER_SENT, Offer.expires_at <= now
        )
    ]
    expired = advanced = 0
    for offer_id in due:
        with database.atomic():
            current = Offer.get_by_id(offer_id)
            opening = get_opening(current.opening_id, for_update=True)
            if _release(current, vocab.OFFER_EXPIRED, actor, now):
                expired += 1
                if opening.status == vocab.OPENING_OPEN:
                    advanced += len(_advance(opening, actor))
    return {"offers_expired": expired, "offers_advanced": advanced}
