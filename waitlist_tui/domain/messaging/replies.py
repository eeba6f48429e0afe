"""Replies from clients, as an SMS gateway hands them on: YES takes the offer, NO passes.

`YES`, `Y` or `1` accepts the live offer of the client whose phone the reply came from (an
appointment offer, or else a class seat held for them); `NO`, `N` or `2` declines it; the word
may be followed by the offer's reference from the message ("YES 3F2A9C"). The carrier
keywords (consent.py) act on the phone's consent: STOP and its kin withdraw SMS consent from
every client with that phone at once, decline their live offers that went by SMS ("opted out
by STOP") and queue the one confirmation a carrier requires; START / UNSTOP give it back;
HELP / INFO answer with the clinic's contact line. Anything else is recorded for the desk.
A reply only ever acts on an offer of the sender's own: naming another client's offer is
refused (Forbidden, 4030) and recorded. A YES that comes after the opening was filled queues
the "already filled" message back to the client.

Every reply is kept (InboundMessage) with what it did, in the transaction that did it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from peewee import JOIN

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clients import normalize_phone, set_consent
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.classes import seat_offers
from waitlist_tui.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.messaging import consent, outbox
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.base import new_id
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Enrolment,
    Entry,
    InboundMessage,
    Offer,
    Opening,
    OutboxMessage,
)
from waitlist_tui.domain.store.prepared import Prepared, param
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso

ACCEPT, DECLINE, NOTE = "accept", "decline", "note"
WORDS = {"YES": ACCEPT, "Y": ACCEPT, "1": ACCEPT, "NO": DECLINE, "N": DECLINE, "2": DECLINE}
MAX_ANSWER = 120  # a reply longer than this is read as a note, never as YES / NO
MAX_TEXT = 2000  # what is kept of a reply's text
_REPLY = re.compile(r"^\W*([A-Za-z0-9]+)\W*(?:\s+#?([0-9A-Fa-f-]{6,36}))?\W*$")

# outcomes recorded on the InboundMessage
ACCEPTED, DECLINED, ALREADY_FILLED = "accepted", "declined", "already_filled"
NO_OFFER, TOO_LATE, FORBIDDEN, UNKNOWN_SENDER = "no_offer", "too_late", "forbidden", "unknown"
OPTED_OUT, OPTED_IN, HELPED = "opted_out", "opted_in", "help"
DUPLICATE = "duplicate"  # the provider delivered this reply before: acknowledged, not acted on
KEYWORD_ACTIONS = (consent.OPT_OUT, consent.OPT_IN, consent.HELP)
OPT_OUT_NOTE = "opted out by STOP"


def parse(text: str) -> tuple[str, str | None]:
    """(accept | decline | opt_out | opt_in | help | note, the offer reference if one
    followed YES or NO).

    A longer text is a note: the pattern backtracks over long runs of spaces (16k characters
    took 6 s), and a YES with its reference is a few dozen characters."""
    if len(text) > MAX_ANSWER:
        return NOTE, None
    word = consent.keyword(text)
    if word is not None:
        return word, None
    match = _REPLY.match(text.strip())
    if not match or match.group(1).upper() not in WORDS:
        return NOTE, None
    return WORDS[match.group(1).upper()], match.group(2)


@dataclass(frozen=True)
class ReplyResult:
    inbound_id: uuid.UUID
    outcome: str
    client_name: str | None
    offer_id: uuid.UUID | None = None  # the offer (or enrolment) the reply answered
    message_key: str | None = None  # a message queued back to the client
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.inbound_id),
            "outcome": self.outcome,
            "client": self.client_name,
            "offer_id": str(self.offer_id) if self.offer_id else None,
            "message_key": self.message_key,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class _Target:
    kind: str  # offer | enrolment
    row: Any


def _name(client: Client | None) -> str | None:
    return f"{client.first_name} {client.last_name}" if client else None


def _named(ref: str, clients: list[Client]) -> _Target:
    """The offer (or seat offer) a reference names; another client's is Forbidden."""
    own = {c.id for c in clients}
    try:
        offer = ids.resolve(Offer, ref, "offer", field="ref")
        owner = Entry.get_by_id(offer.entry_id).client_id
        target = _Target("offer", offer)
    except NotFound:
        try:
            enrolment = ids.resolve(Enrolment, ref, "offer", field="ref")
        except NotFound:
            raise NotFound(f"no offer has the reference {ref}", field="ref") from None
        owner, target = enrolment.client_id, _Target("enrolment", enrolment)
    if owner not in own:
        raise Forbidden("forbidden: that offer was not made to this phone's client", field="ref")
    return target


def _live(clients: list[Client]) -> _Target | str | None:
    """The sender's one live offer (or seat offer); "ambiguous" when there are several."""
    own = [c.id for c in clients]
    live = list(
        Offer.select()
        .join(Entry)
        .where(Entry.client.in_(own), Offer.status == vocab.OFFER_SENT)
        .order_by(Offer.sent_at.desc())
    )
    seats = list(
        Enrolment.select()
        .where(Enrolment.client.in_(own), Enrolment.status == vocab.OFFERED)
        .order_by(Enrolment.offered_at.desc())
    )
    found = [_Target("offer", o) for o in live] + [_Target("enrolment", e) for e in seats]
    if len(found) > 1:
        return "ambiguous"
    return found[0] if found else None


def _latest_offer(clients: list[Client]) -> Offer | None:
    latest: Offer | None = (
        Offer.select()
        .join(Entry)
        .where(Entry.client.in_([c.id for c in clients]))
        .order_by(Offer.sent_at.desc(), Offer.id)
        .first()
    )
    return latest


def _filled_back(offer: Offer, actor: str) -> str | None:
    """Queue "already filled" to the client; the key of the message (None: no consent)."""
    parties = offers.offer_parties(offer)
    message = outbox.tell_offer(offer, "already_filled", parties, actor, clock.now())
    return message.idempotency_key if message else None


def _answer(target: _Target, action: str, actor: str) -> tuple[str, str | None, str]:
    """(outcome, key of a message queued back, detail)."""
    if target.kind == "enrolment":
        try:
            if action == ACCEPT:
                seat_offers.accept_seat(target.row.id, actor)
                return ACCEPTED, None, "seat taken"
            seat_offers.decline_seat(target.row.id, actor)
            return DECLINED, None, "seat declined"
        except DomainError as err:
            return TOO_LATE, None, err.message
    offer = target.row
    try:
        if action == ACCEPT:
            reply = offers.accept(offer.id, actor)
            return ACCEPTED, f"offer:{offer.id}:booked:v1", f"booked {reply.appointment_id}"
        offers.decline(offer.id, actor, note="replied NO")
        return DECLINED, None, ""
    except Conflict as err:
        opening = Opening.get_by_id(offer.opening_id)
        if action == ACCEPT and opening.status == vocab.OPENING_FILLED:
            return ALREADY_FILLED, _filled_back(offer, actor), err.message
        return TOO_LATE, None, err.message


def _went_by_sms(ref_type: str, ref_id: uuid.UUID, kind: str) -> bool:
    return (
        OutboxMessage.select()
        .where(
            OutboxMessage.ref_type == ref_type,
            OutboxMessage.ref_id == str(ref_id),
            OutboxMessage.kind == kind,
            OutboxMessage.channel == outbox.SMS,
        )
        .exists()
    )


def _end_sms_offers(clients: list[Client], actor: str) -> list[str]:
    """Decline every live offer (and held class seat) made to these clients by SMS; an offer
    that ended meanwhile is left as it is. The ids of those declined."""
    own = [c.id for c in clients]
    ended: list[str] = []
    live = (
        Offer.select()
        .join(Entry)
        .where(Entry.client.in_(own), Offer.status == vocab.OFFER_SENT)
        .order_by(Offer.sent_at, Offer.id)
    )
    for offer in list(live):
        if _went_by_sms("offer", offer.id, "offer"):
            try:
                offers.decline(offer.id, actor, note=OPT_OUT_NOTE, cause=offers.OPTED_OUT)
            except DomainError:
                continue  # expired or taken meanwhile: nothing left to end
            ended.append(str(offer.id))
    seats = Enrolment.select().where(Enrolment.client.in_(own), Enrolment.status == vocab.OFFERED)
    for seat in list(seats):
        if _went_by_sms("enrolment", seat.id, "seat_offered"):
            try:
                seat_offers.decline_seat(seat.id, actor)
            except DomainError:
                continue
            ended.append(str(seat.id))
    return ended


def _keyword(
    action: str,
    clinic: Clinic,
    clients: list[Client],
    phone: str,
    inbound_id: uuid.UUID,
    actor: str,
) -> tuple[str, str | None, str]:
    """STOP / START / HELP for every client with this phone: (outcome, key, detail)."""
    now = clock.now()

    def answer(client: Client, kind: str, body: str) -> str:
        """The one SMS that answers the keyword; its idempotency key."""
        return outbox.queue_reply(
            clinic=clinic,
            client=client,
            phone=phone,
            kind=kind,
            body=body,
            key=f"reply:{inbound_id}:v1",
            actor=actor,
            now=now,
            ref_id=inbound_id,
        ).idempotency_key

    if action == consent.HELP:
        key = answer(clients[0], consent.HELP_KIND, consent.help_text(clinic))
        return HELPED, key, "answered with the contact line"
    opt_in = action == consent.OPT_IN
    changed = [c for c in clients if c.consent_sms != opt_in]
    why = "texted START" if opt_in else "texted STOP"
    for client in changed:
        set_consent(client, {"consent_sms": opt_in}, actor, why)
    if opt_in:
        if not changed:
            return OPTED_IN, None, "SMS consent was already given"
        key = answer(changed[0], consent.OPTED_IN_KIND, consent.opted_in_text(clinic))
        return OPTED_IN, key, "SMS consent given back"
    ended = _end_sms_offers(clients, actor)
    detail = f"SMS consent withdrawn; {len(ended)} live SMS offer(s) declined"
    if ended:
        detail += ": " + ", ".join(ended)
    if not changed:  # already out: no second confirmation
        return OPTED_OUT, None, detail.replace("withdrawn", "already withdrawn")
    key = answer(changed[0], consent.OPTED_OUT_KIND, consent.opted_out_text(clinic))
    return OPTED_OUT, key, detail


def _record(
    clinic: Clinic,
    client: Client | None,
    sender: str,
    text: str,
    outcome: str,
    offer_id: uuid.UUID | None = None,
    inbound_id: uuid.UUID | None = None,
    provider_id: str | None = None,
) -> InboundMessage:
    return InboundMessage.create(
        id=inbound_id or uuid.uuid4(),
        clinic=clinic.id,
        client=client.id if client else None,
        sender=sender,
        text=text[:MAX_TEXT],
        outcome=outcome,
        offer_id=str(offer_id) if offer_id else None,
        received_at=clock.now(),
        provider_message_id=provider_id,
    )


# Every reply looks its sender up: the SQL built once (store/prepared.py).
_BY_PHONE = Prepared(
    lambda: (
        Client.select()
        .where(Client.clinic == param("clinic"), Client.phone == param("phone"))
        .order_by(Client.created_at, Client.id)
    )
)


def handle_reply(
    sender: str,
    text: str,
    actor: str = "sms",
    clinic_code: str | None = None,
    ref: str | None = None,
    provider_id: str | None = None,
) -> ReplyResult:
    """Act on one reply and record it; Forbidden (4030) for another client's offer.
    `provider_id`: the SMS provider's id for the reply (Twilio's MessageSid); one seen before
    is a replay, answered DUPLICATE with nothing done (a unique index backs the check, so
    two deliveries at once cannot both act: the second's transaction fails whole)."""
    text = text_value(text, "text", max_len=10 * MAX_TEXT, multiline=True, strip=False)
    clinic = get_clinic(clinic_code)
    phone = normalize_phone(sender, clinic.region, field="from")
    if phone is None:
        raise ValidationError("from: the sender's phone number is required", field="from")
    action, said_ref = parse(text)
    ref = ref or said_ref
    refused: Forbidden | None = None
    inbound_id = new_id()
    with database.atomic():
        seen = (
            InboundMessage.get_or_none(InboundMessage.provider_message_id == provider_id)
            if provider_id
            else None
        )
        if seen is not None:
            return ReplyResult(seen.id, DUPLICATE, None, detail="delivered before: not acted on")
        clients = list(_BY_PHONE.rows(clinic=clinic.id, phone=phone))
        client = clients[0] if len(clients) == 1 else None
        target: Any = None
        if not clients:
            outcome, key, detail = UNKNOWN_SENDER, None, "no client has this phone"
        elif action in KEYWORD_ACTIONS:
            outcome, key, detail = _keyword(action, clinic, clients, phone, inbound_id, actor)
        elif action == NOTE:
            outcome, key, detail = NOTE, None, "for the desk to read"
        else:
            try:
                target = _named(ref, clients) if ref else _live(clients)
            except Forbidden as err:
                refused, target = err, None
            if refused:
                outcome, key, detail = FORBIDDEN, None, refused.message
            elif target == "ambiguous":
                target = None
                outcome, key, detail = NOTE, None, "several live offers: the desk must ask"
            elif target is None:
                latest = _latest_offer(clients)
                opening = Opening.get_by_id(latest.opening_id) if latest else None
                if (
                    action == ACCEPT
                    and latest is not None
                    and opening is not None
                    and latest.status != vocab.OFFER_ACCEPTED
                    and opening.status == vocab.OPENING_FILLED
                ):
                    target = _Target("offer", latest)
                    outcome, key, detail = ALREADY_FILLED, _filled_back(latest, actor), ""
                else:
                    outcome, key, detail = NO_OFFER, None, "no live offer for this phone"
            else:
                outcome, key, detail = _answer(target, action, actor)
        if target is not None and client is None:
            owner = (
                target.row.client_id
                if target.kind == "enrolment"
                else Entry.get_by_id(target.row.entry_id).client_id
            )
            client = next(c for c in clients if c.id == owner)
        inbound = _record(
            clinic,
            client,
            phone,
            text,
            outcome,
            target.row.id if target else None,
            inbound_id,
            provider_id,
        )
        # Every reply, a note too, leaves its audit row: what it did, never what it said.
        audit.record(
            actor,
            f"reply.{outcome}",
            "inbound",
            inbound.id,
            {
                "outcome": [None, outcome],
                "client": [None, str(client.id) if client else None],
                "offer": [None, str(target.row.id) if target else None],
            },
        )
    if refused is not None:
        raise Forbidden(refused.message, field="ref", data={"inbound_id": str(inbound.id)})
    return ReplyResult(
        inbound.id, outcome, _name(client), target.row.id if target else None, key, detail
    )


@dataclass(frozen=True)
class InboundView:
    id: uuid.UUID
    received_at: Any
    sender: str
    client_name: str | None
    text: str
    outcome: str
    offer_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "received_at": iso(self.received_at),
            "from": self.sender,
            "client": self.client_name,
            "text": self.text,
            "outcome": self.outcome,
            "offer_id": self.offer_id,
        }


def list_replies(
    outcome: str | None = None, limit: int = 200, offset: int = 0
) -> list[InboundView]:
    """Newest first, the sender masked; `outcome` note lists what the desk should read."""
    if not 1 <= limit <= 5000:
        raise ValidationError("limit must be 1-5000", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    query = InboundMessage.select(InboundMessage, Client).join(Client, JOIN.LEFT_OUTER)
    if outcome:
        query = query.where(InboundMessage.outcome == outcome)
    rows = (
        query.order_by(InboundMessage.received_at.desc(), InboundMessage.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        InboundView(
            r.id,
            r.received_at,
            outbox.mask(r.sender),
            _name(r.client) if r.client_id else None,
            r.text,
            r.outcome,
            r.offer_id,
        )
        for r in rows
    ]
