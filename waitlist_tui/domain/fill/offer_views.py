"""Offers as the desk reads them: one view per offer with its slot, client and deadline, and
why no message told the client of it (the desk phones instead)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import NotFound, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.openings import get_opening
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
    Provider,
    Service,
)
from waitlist_tui.domain.store.prepared import Prepared, PreparedFamily, param
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso

FILLED = "opening already filled"


@dataclass(frozen=True)
class OfferView:
    id: Any
    opening_id: IdRef
    entry_id: IdRef
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
    phone_instead: str = ""  # why no message tells the client of it: the desk phones

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
            "phone_instead": self.phone_instead,
        }


def taken_by(offer_id: IdRef) -> str | None:
    """After a reply was refused: who holds the slot now, in the desk's words ("offer is
    accepted" read like success to the desk that lost the race). None while it is not filled."""
    offer = resolve_offer(offer_id)
    winner = (
        Offer.select(Offer, Entry, Client)
        .join(Entry)
        .join(Client)
        .where(Offer.opening == offer.opening_id, Offer.status == vocab.OFFER_ACCEPTED)
        .first()
    )
    if winner is None:
        return None
    name = f"{winner.entry.client.first_name} {winner.entry.client.last_name}"
    by = winner.updated_by or "another desk"
    if winner.id == offer.id:
        return f"already booked by {by}: {name} has this slot"
    return f"another desk ({by}) booked this slot first: {name} got it"


def offer_message_key(offer_id: IdRef) -> str:
    """The idempotency key of an offer's own message (outbox.tell_offer writes it)."""
    return outbox.offer_key(offer_id, "offer")


def lock_offer(offer_id: IdRef) -> tuple[Offer, Opening]:
    """The offer and its opening with the opening's row locked (store.locking), the offer read
    again after the lock is held: what another desk did first is seen here. Every reply, call
    and sweep that decides from an offer's state starts with it."""
    found = offer_id if isinstance(offer_id, Offer) else resolve_offer(offer_id)
    opening = get_opening(found.opening_id, lock=True)
    return Offer.get_by_id(found.id), opening


_PARTIES = Prepared(  # its SQL built once: every reply and ending reads it
    lambda: (
        Offer.select(Offer.id, Opening, Clinic, Provider, Entry, Client, Service)
        .join(Opening)
        .join(Clinic)
        .switch(Opening)
        .join(Provider)
        .switch(Offer)
        .join(Entry)
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(Offer.id == param("offer"))
        .limit(1)
    )
)


def offer_parties(offer: Offer) -> outbox.SlotParties:
    """The rows an offer's messages name, in one query, for a caller that holds only the
    offer (a reply, an ending)."""
    row = _PARTIES.get(offer=offer.id)
    opening, entry = row.opening, row.entry
    return outbox.SlotParties(
        opening.clinic, entry.client, entry.service, opening.provider, opening.starts_at
    )


_MESSAGES = PreparedFamily(  # per count of offers: every offer view reads them
    lambda n: OutboxMessage.select(
        OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.last_error
    ).where(OutboxMessage.idempotency_key.in_(param("keys", size=n)))
)


def _phone_reasons(rows: list[Offer]) -> dict[Any, str]:
    """Why no message tells each client of their offer ("" when one is on its way or went):
    the desk reads it as "phone them"."""
    keys = {offer_message_key(o.id): o.id for o in rows}
    found = (
        {keys[m.idempotency_key]: m for m in _MESSAGES(len(keys)).rows(keys=list(keys))}
        if keys
        else {}
    )
    reasons: dict[Any, str] = {}
    for o in rows:
        message = found.get(o.id)
        if message is None:
            reasons[o.id] = (
                offer_time.PHONE_QUIET
                if outbox.channel_for(o.entry.client)
                else "phone: no consent or contact details for messages"
            )
        elif message.status == outbox.DEAD:
            why = message.last_error.removeprefix("not sent: ")
            reasons[o.id] = f"phone: the message was not sent ({why})"
        else:
            reasons[o.id] = ""
    return reasons


def _joined(query: Any) -> Any:
    """The offers with what their views read of the rows they name (only that: building
    every column of seven rows was most of an offer call's view)."""
    return (
        query.select(
            Offer,
            Opening.id,
            Opening.starts_at,
            Opening.ends_at,
            Provider.id,
            Provider.code,
            Clinic.id,
            Clinic.settings,  # the cutoff of the deadline (offer_time.deadline)
            Entry.id,
            Client.id,
            Client.first_name,
            Client.last_name,
            Client.phone,
            Client.email,
            Client.consent_sms,
            Client.consent_email,
            Service.id,
            Service.code,
        )
        .join(Opening)
        .join(Provider)
        .switch(Opening)
        .join(Clinic)
        .switch(Offer)
        .join(Entry)
        .join(Client)
        .switch(Entry)
        .join(Service)
    )


_BY_IDS = PreparedFamily(
    lambda n: _joined(Offer.select().where(Offer.id.in_(param("ids", size=n))))
)


def views_of(offer_ids: list[Any]) -> list[OfferView]:
    """The views of these offers (any order): the query prepared per count (store/prepared.py),
    as every offer call returns its offers' views."""
    return _views(list(_BY_IDS(len(offer_ids)).rows(ids=offer_ids))) if offer_ids else []


def offer_views(query: Any) -> list[OfferView]:
    return _views(list(_joined(query)))


def _views(rows: list[Offer]) -> list[OfferView]:
    phone = _phone_reasons(rows)
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
            offer_time.deadline(o.opening.clinic, o.opening.starts_at, o.expires_at),
            o.responded_at,
            o.note,
            phone[o.id],
        )
        for o in rows
    ]


def get_offer(offer_id: IdRef) -> OfferView:
    offer = resolve_offer(offer_id)
    return views_of([offer.id])[0]


def list_offers(
    status: str | None = vocab.OFFER_SENT,
    opening: Any = None,
    entry: Any = None,
    clinic: Clinic | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[OfferView]:
    """Live offers (status sent) soonest to expire first, the order the desk works through
    replies; any other status, or all, newest first (a year-old list came first before)."""
    if not 1 <= limit <= 5000:
        raise ValidationError("limit must be 1-5000", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
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
    order = (
        (Offer.expires_at, Offer.id)
        if status == vocab.OFFER_SENT
        else (Offer.sent_at.desc(), Offer.id.desc())
    )
    ids_ = [o.id for o in query.order_by(*order).limit(limit).offset(offset)]
    views = {v.id: v for v in offer_views(Offer.select().where(Offer.id.in_(ids_)))} if ids_ else {}
    return [views[i] for i in ids_]


def resolve_offer(offer_id: IdRef) -> Offer:
    """The offer an id or prefix names; NotFound says "offer" (ids.resolve's own would too,
    but with the field the desk typed)."""
    try:
        return ids.resolve(Offer, offer_id, "offer", field="offer")
    except NotFound:
        raise NotFound("offer not found", field="offer") from None


NOTE_MAX = 500


def reply_note(note: Any) -> str:
    """A note the desk types with a reply: text, at most NOTE_MAX, no NUL or terminal codes
    (stored as typed before, "\x1b[31m" included)."""
    return text_value(note, "note", max_len=NOTE_MAX, multiline=True)
