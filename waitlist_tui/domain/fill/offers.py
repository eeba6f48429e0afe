"""Offers: send an opening to the best candidate (SEQUENTIAL) or the top N (BROADCAST), and
take the replies. An offer's deadline is the earlier of its hold and the slot's notice cutoff
(offer_time.py); nothing is offered or accepted past it. Every way an offer ends (a reply, its
deadline, its entry closing or changing, its opening withdrawn or filled) goes through one
function, `end_offer`. An opening is filled at most once whatever the number of desks racing:
accepting locks the opening row (PostgreSQL FOR UPDATE; SQLite write transactions are
IMMEDIATE), moves each row with a conditional update checked by its row count, and the partial
unique index refuses a second accepted offer for the same opening.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError, fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.matching import Candidate, candidates
from waitlist_tui.domain.fill.openings import get_opening
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    Appointment,
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    OutboxMessage,
    Provider,
    Service,
)
from waitlist_tui.domain.store.transitions import move
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso

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


def taken_by(offer_id: Any) -> str | None:
    """After a reply was refused: who holds the slot now, in the desk's words ("offer is
    accepted" read like success to the desk that lost the race). None while it is not filled."""
    offer = _resolve(offer_id)
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


def offer_message_key(offer_id: Any) -> str:
    """The idempotency key of an offer's own message (outbox.tell_offer writes it)."""
    return f"offer:{offer_id}:v1"


def _phone_reasons(rows: list[Offer]) -> dict[Any, str]:
    """Why no message tells each client of their offer ("" when one is on its way or went):
    the desk reads it as "phone them"."""
    keys = {offer_message_key(o.id): o.id for o in rows}
    found = (
        {
            keys[m.idempotency_key]: m
            for m in OutboxMessage.select(
                OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.last_error
            ).where(OutboxMessage.idempotency_key.in_(list(keys)))
        }
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


def _views(query) -> list[OfferView]:
    rows = list(
        query.select(Offer, Opening, Entry, Client, Provider, Service, Clinic)
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


def get_offer(offer_id: Any) -> OfferView:
    offer = _resolve(offer_id)
    return _views(Offer.select().where(Offer.id == offer.id))[0]


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
    views = {v.id: v for v in _views(Offer.select().where(Offer.id.in_(ids_)))} if ids_ else {}
    return [views[i] for i in ids_]


def _resolve(offer_id: Any) -> Offer:
    try:
        return ids.resolve(Offer, offer_id, "offer", field="offer")
    except NotFound:
        raise NotFound("offer not found", field="offer") from None


def _send(
    opening: Opening,
    entry_id: Any,
    match_type: str,
    hold: int,
    flow: str,
    actor: str,
    now: dt.datetime,
) -> Offer:
    """One offer and its message, with the deadline offer_time gives it. A message that could
    only go out at or after that deadline (quiet hours) is not queued: the desk phones."""
    if not move(Entry, entry_id, vocab.WAITING, vocab.OFFERED, actor, now):
        raise Conflict(
            "waitlist request changed meanwhile; look again", data={"entry": str(entry_id)}
        )
    clinic = Clinic.get_by_id(opening.clinic_id)
    client = Client.select().join(Entry).where(Entry.id == entry_id).get()
    reachable = outbox.channel_for(client) is not None
    terms = offer_time.terms(clinic, opening.starts_at, hold, now, flow, can_message=reachable)
    offer = Offer.create(
        opening=opening,
        entry=entry_id,
        status=vocab.OFFER_SENT,
        match_type=match_type,
        sent_at=now,
        expires_at=terms.deadline,
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
            "hold_minutes": [None, hold],
            "expires_at": [None, audit.plain(terms.deadline)],
        },
    )
    if terms.phone_instead:
        audit.record(
            actor,
            "message.not_sent",
            "offer",
            offer.id,
            {"kind": [None, "offer"], "reason": [None, terms.phone_instead]},
        )
    else:
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
            offer_time.check_in_time(clinic, opening.starts_at, now)
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
            sent = [
                _send(opening, c.entry_id, c.match_type, hold, flow, actor, now) for c in chosen
            ]
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


# --- how an offer ends: one function for every cause ------------------------------------------

DECLINED, OPTED_OUT, NO_ANSWER = "declined", "opted_out", "no_answer"
EXPIRED, PAST_DEADLINE = "expired", "past_deadline"
ENTRY_CANCELLED, ENTRY_EXPIRED = "entry_cancelled", "entry_expired"
ENTRY_NARROWED = "entry_narrowed"
OPENING_WITHDRAWN, FILLED_BY_OTHER, RESCINDED = "opening_withdrawn", "filled", "rescinded"


@dataclass(frozen=True)
class EndRule:
    """What a cause means: the offer's final status, the message the client gets (if they were
    texted the offer), and whether a SEQUENTIAL opening moves on to the next candidate."""

    status: str
    tell: str | None
    advance: bool


END_RULES: dict[str, EndRule] = {
    # the client's own answer: nothing to tell them
    DECLINED: EndRule(vocab.OFFER_DECLINED, None, True),
    OPTED_OUT: EndRule(vocab.OFFER_DECLINED, None, True),  # and no further SMS anyway
    # time ran out
    NO_ANSWER: EndRule(vocab.OFFER_EXPIRED, "offer_expired", True),
    EXPIRED: EndRule(vocab.OFFER_EXPIRED, "offer_expired", True),
    PAST_DEADLINE: EndRule(vocab.OFFER_EXPIRED, "offer_expired", True),
    # the entry closed or changed under the offer: the slot goes on to the next candidate
    ENTRY_CANCELLED: EndRule(vocab.OFFER_RESCINDED, "offer_withdrawn", True),
    ENTRY_EXPIRED: EndRule(vocab.OFFER_RESCINDED, "offer_withdrawn", True),
    ENTRY_NARROWED: EndRule(vocab.OFFER_RESCINDED, "offer_withdrawn", True),
    # the slot went away
    OPENING_WITHDRAWN: EndRule(vocab.OFFER_RESCINDED, "offer_withdrawn", False),
    FILLED_BY_OTHER: EndRule(vocab.OFFER_RESCINDED, None, False),  # a YES gets already_filled
    # the desk withdraws it on the phone (no automatic next offer)
    RESCINDED: EndRule(vocab.OFFER_RESCINDED, None, False),
}
CAUSES = tuple(END_RULES)


@dataclass(frozen=True)
class Ended:
    """What ending one offer did."""

    offer_id: Any
    status: str
    cause: str
    next_offers: tuple[OfferView, ...] = ()
    opening_closed: bool = False


def _was_texted(offer: Offer) -> bool:
    """The client was told of the offer (its message went out): then they are told it ended.
    A message still waiting is dropped at delivery instead (offer_time.undeliverable)."""
    return (
        OutboxMessage.select()
        .where(
            OutboxMessage.idempotency_key == offer_message_key(offer.id),
            OutboxMessage.status == outbox.SENT,
        )
        .exists()
    )


def _close_opening(opening: Opening, cause: str, actor: str, now: dt.datetime) -> bool:
    """open -> closed with its audit row; False if it had moved on."""
    if not move(Opening, opening.id, vocab.OPENING_OPEN, vocab.OPENING_CLOSED, actor, now):
        return False
    audit.record(
        actor,
        "opening.close",
        "opening",
        opening.id,
        {"status": [vocab.OPENING_OPEN, vocab.OPENING_CLOSED], "cause": [None, cause]},
    )
    return True


def _next_candidate(opening_id: Any, actor: str, now: dt.datetime) -> tuple[list, bool]:
    """SEQUENTIAL: the next candidate gets the opening while it is still in time; past its
    cutoff the opening closes. (offers sent, opening closed)"""
    opening = Opening.get_by_id(opening_id)
    clinic = Clinic.get_by_id(opening.clinic_id)
    if opening.status != vocab.OPENING_OPEN:
        return [], False
    if (opening.workflow or clinic.default_workflow) != vocab.SEQUENTIAL:
        return [], False
    if Offer.select().where(Offer.opening == opening, Offer.status == vocab.OFFER_SENT).exists():
        return [], False
    if offer_time.is_too_late(clinic, opening.starts_at, now):
        return [], _close_opening(opening, "too_late", actor, now)
    return offer(opening.id, actor, workflow=vocab.SEQUENTIAL), False


def end_offer(
    offer_ref: Offer | Any, cause: str, actor: str, now: dt.datetime, note: str = ""
) -> Ended | None:
    """End a sent offer for `cause` (one of CAUSES), in the caller's transaction or its own:
    the offer's final status, its entry back to waiting (unless the entry itself closed), an
    audit row naming the cause, the client told when they had been texted the offer, and a
    SEQUENTIAL opening moved on to the next candidate (or closed past its cutoff) when the
    cause says so. None when the offer was no longer sent (another desk or job got there)."""
    rule = END_RULES.get(cause)
    if rule is None:
        raise ValidationError(f"cause must be one of {', '.join(CAUSES)}", field="cause")
    with database.atomic():
        current = offer_ref if isinstance(offer_ref, Offer) else _resolve(offer_ref)
        if not move(
            Offer,
            current.id,
            vocab.OFFER_SENT,
            rule.status,
            actor,
            now,
            responded_at=now,
            note=note,
        ):
            return None
        move(Entry, current.entry_id, vocab.OFFERED, vocab.WAITING, actor, now)
        audit.record(
            actor,
            f"offer.{rule.status}",
            "offer",
            current.id,
            {"status": [vocab.OFFER_SENT, rule.status], "cause": [None, cause]},
        )
        if rule.tell and _was_texted(current):
            outbox.tell_offer(current, rule.tell, actor, now)
        following: list[OfferView] = []
        closed = False
        if rule.advance:
            following, closed = _next_candidate(current.opening_id, actor, now)
    return Ended(current.id, rule.status, cause, tuple(following), closed)


def end_entry_offers(entry_id: Any, cause: str, actor: str, now: dt.datetime) -> list[Ended]:
    """The entry closed or changed: each of its sent offers ends for `cause` (entry_cancelled,
    entry_expired, entry_narrowed)."""
    live = Offer.select().where(Offer.entry == entry_id, Offer.status == vocab.OFFER_SENT)
    ended = [end_offer(o, cause, actor, now) for o in list(live)]
    return [e for e in ended if e is not None]


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
                end_offer(other, FILLED_BY_OTHER, actor, now, note=FILLED)
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


NOTE_MAX = 500


def reply_note(note: Any) -> str:
    """A note the desk types with a reply: text, at most NOTE_MAX, no NUL or terminal codes
    (stored as typed before, "\x1b[31m" included)."""
    return text_value(note, "note", max_len=NOTE_MAX, multiline=True)


def decline(offer_id: Any, actor: str, note: str = "", cause: str = DECLINED) -> Reply:
    """The client says no (or opted out: cause opted_out): back to waiting; SEQUENTIAL moves
    on to the next candidate."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        current, _ = _checked(offer_id, now)
        ended = end_offer(current, cause, actor, now, note)
    following = ended.next_offers if ended else ()
    return Reply(get_offer(current.id), None, following)


def rescind(offer_id: Any, actor: str, note: str = "") -> Reply:
    """The desk withdraws an offer; the entry waits again (no automatic next offer)."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        current, _ = _checked(offer_id, now)
        end_offer(current, RESCINDED, actor, now, note)
    return Reply(get_offer(current.id))


def withdraw_opening(opening_id: Any, actor: str, note: str = "") -> dict[str, Any]:
    """The desk takes a slot back (the provider is off after all): the opening closes and each
    live offer of it ends (cause opening_withdrawn: the texted clients are told)."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        opening = get_opening(opening_id, for_update=True)
        if opening.status != vocab.OPENING_OPEN:
            raise Conflict(f"opening is {opening.status}", data={"status": opening.status})
        live = list(
            Offer.select().where(Offer.opening == opening, Offer.status == vocab.OFFER_SENT)
        )
        ended = [end_offer(o, OPENING_WITHDRAWN, actor, now, note) for o in live]
        _close_opening(opening, OPENING_WITHDRAWN, actor, now)
    return {
        "opening_id": str(opening.id),
        "status": vocab.OPENING_CLOSED,
        "offers_ended": sum(1 for e in ended if e is not None),
    }


def expire_offers(now: dt.datetime | None = None, actor: str = "system") -> dict[str, int]:
    """Sent offers past their deadline end (expired: hold over; past_deadline: the slot's
    cutoff came); SEQUENTIAL openings go to the next candidate while still in time. Then open
    openings past their cutoff close (their offers ended just before). Each offer and each
    opening is its own transaction with conditional updates, so this is safe from cron and
    from the app's timer while desks work."""
    now = now or clock.now()
    expired = advanced = closed = 0
    for clinic in Clinic.select():
        late = now + dt.timedelta(minutes=offer_time.min_notice(clinic))  # starts before: cut
        due = [
            o.id
            for o in Offer.select(Offer.id)
            .join(Opening)
            .where(
                Opening.clinic == clinic,
                Offer.status == vocab.OFFER_SENT,
                (Offer.expires_at <= now) | (Opening.starts_at <= late),
            )
            .order_by(Offer.expires_at, Offer.id)
        ]
        for offer_id in due:
            with database.atomic():
                current = Offer.get_by_id(offer_id)
                opening = get_opening(current.opening_id, for_update=True)
                if offer_time.is_too_late(clinic, opening.starts_at, now):
                    cause = PAST_DEADLINE
                elif current.expires_at <= now:
                    cause = EXPIRED
                else:
                    continue
                ended = end_offer(current, cause, actor, now)
                if ended is not None:
                    expired += 1
                    advanced += len(ended.next_offers)
                    closed += ended.opening_closed
        stale = [
            o.id
            for o in Opening.select(Opening.id).where(
                Opening.clinic == clinic,
                Opening.status == vocab.OPENING_OPEN,
                Opening.starts_at <= late,
            )
        ]
        for opening_id in stale:
            with database.atomic():
                opening = get_opening(opening_id, for_update=True)
                if opening.status != vocab.OPENING_OPEN:
                    continue
                for o in Offer.select().where(
                    Offer.opening == opening, Offer.status == vocab.OFFER_SENT
                ):
                    expired += end_offer(o, PAST_DEADLINE, actor, now) is not None
                cause = "started" if opening.starts_at <= now else "too_late"
                closed += _close_opening(opening, cause, actor, now)
    return {"offers_expired": expired, "offers_advanced": advanced, "openings_closed": closed}
