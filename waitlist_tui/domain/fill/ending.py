"""How an offer ends: one function, `end_offer`, for every cause (a reply, its deadline, its
entry closing or changing, its opening withdrawn or filled), and the sweeps that call it
(`withdraw_opening`, `expire_offers`). Each cause's rule says the final status, what the
client is told and whether a SEQUENTIAL opening moves on to the next candidate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import SQL

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.offer_views import (
    OfferView,
    lock_offer,
    offer_message_key,
    offer_parties,
    reply_note,
    resolve_offer,
)
from waitlist_tui.domain.fill.openings import get_opening
from waitlist_tui.domain.fill.sending import has_live_offer, offer
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Clinic, Entry, Offer, Opening, OutboxMessage
from waitlist_tui.domain.store.prepared import Prepared, param
from waitlist_tui.domain.store.transitions import move

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
    # another candidate booked it: each one texted the offer is told at once, in the
    # accepting transaction (the key is the one a late YES's answer uses: told once)
    FILLED_BY_OTHER: EndRule(vocab.OFFER_RESCINDED, "already_filled", False),
    # the desk withdraws it on the phone (no automatic next offer)
    RESCINDED: EndRule(vocab.OFFER_RESCINDED, None, False),
}
CAUSES = tuple(END_RULES)


@dataclass(frozen=True)
class Ended:
    """What ending one offer did."""

    offer_id: IdRef
    status: str
    cause: str
    next_offers: tuple[OfferView, ...] = ()
    opening_closed: bool = False


def _was_texted(offer: Offer) -> bool:
    """The client was told of the offer (its message went out): then they are told it ended.
    A message still waiting is dropped at delivery instead (offer_time.undeliverable)."""
    return _TEXTED.scalar(key=offer_message_key(offer.id)) is not None


_TEXTED = Prepared(  # asked on every ending: its SQL built once (store/prepared.py)
    lambda: (
        OutboxMessage.select(SQL("1"))
        .where(
            OutboxMessage.idempotency_key == param("key"),
            OutboxMessage.status == outbox.SENT,
        )
        .limit(1)
    )
)
_ENTRY_LIVE = Prepared(
    lambda: Offer.select().where(Offer.entry == param("entry"), Offer.status == vocab.OFFER_SENT)
)
_OPENING_LIVE = Prepared(
    lambda: Offer.select().where(
        Offer.opening == param("opening"), Offer.status == vocab.OFFER_SENT
    )
)


def live_offers(opening_id: IdRef) -> list[Offer]:
    """The opening's live offers, read whole before any of them ends (an accept rescinds
    them, a withdrawal ends them): its SQL built once (store/prepared.py)."""
    return list(_OPENING_LIVE.rows(opening=opening_id))


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


def _next_candidate(
    opening_id: IdRef, actor: str, now: dt.datetime
) -> tuple[list[OfferView], bool]:
    """SEQUENTIAL: the next candidate gets the opening while it is still in time; past its
    cutoff the opening closes. (offers sent, opening closed)"""
    opening = Opening.get_by_id(opening_id)
    clinic = Clinic.get_by_id(opening.clinic_id)
    if opening.status != vocab.OPENING_OPEN:
        return [], False
    if (opening.workflow or clinic.default_workflow) != vocab.SEQUENTIAL:
        return [], False
    if has_live_offer(opening.id):
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
        current = offer_ref if isinstance(offer_ref, Offer) else resolve_offer(offer_ref)
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
            outbox.tell_offer(current, rule.tell, offer_parties(current), actor, now)
        following: list[OfferView] = []
        closed = False
        if rule.advance:
            following, closed = _next_candidate(current.opening_id, actor, now)
    return Ended(current.id, rule.status, cause, tuple(following), closed)


def end_entry_offers(entry_id: IdRef, cause: str, actor: str, now: dt.datetime) -> list[Ended]:
    """The entry closed or changed: each of its sent offers ends for `cause` (entry_cancelled,
    entry_expired, entry_narrowed)."""
    live = list(_ENTRY_LIVE.rows(entry=entry_id))
    ended = [end_offer(o, cause, actor, now) for o in live]
    return [e for e in ended if e is not None]


def withdraw_opening(opening_id: IdRef, actor: str, note: str = "") -> dict[str, Any]:
    """The desk takes a slot back (the provider is off after all): the opening closes and each
    live offer of it ends (cause opening_withdrawn: the texted clients are told)."""
    note = reply_note(note)
    now = clock.now()
    with database.atomic():
        opening = get_opening(opening_id, lock=True)
        if opening.status != vocab.OPENING_OPEN:
            raise Conflict(f"opening is {opening.status}", data={"status": opening.status})
        live = live_offers(opening.id)
        ended = [end_offer(o, OPENING_WITHDRAWN, actor, now, note) for o in live]
        _close_opening(opening, OPENING_WITHDRAWN, actor, now)
    return {
        "opening_id": str(opening.id),
        "status": vocab.OPENING_CLOSED,
        "offers_ended": sum(1 for e in ended if e is not None),
    }


# The sweep's reads, run at every deadline (a simulated month has hundreds): SQL built once.
_CLINICS = Prepared(lambda: Clinic.select())
_DUE = Prepared(
    lambda: (
        Offer.select(Offer.id)
        .join(Opening)
        .where(
            Opening.clinic == param("clinic"),
            Offer.status == vocab.OFFER_SENT,
            (Offer.expires_at <= param("now")) | (Opening.starts_at <= param("late")),
        )
        .order_by(Offer.expires_at, Offer.id)
        .tuples()
    )
)
_STALE = Prepared(
    lambda: (
        Opening.select(Opening.id)
        .where(
            Opening.clinic == param("clinic"),
            Opening.status == vocab.OPENING_OPEN,
            Opening.starts_at <= param("late"),
        )
        .tuples()
    )
)
_OPENING_LIVE = Prepared(
    lambda: Offer.select().where(
        Offer.opening == param("opening"), Offer.status == vocab.OFFER_SENT
    )
)


def expire_offers(now: dt.datetime | None = None, actor: str = "system") -> dict[str, int]:
    """Sent offers past their deadline end (expired: hold over; past_deadline: the slot's
    cutoff came); SEQUENTIAL openings go to the next candidate while still in time. Then open
    openings past their cutoff close (their offers ended just before). Each offer and each
    opening is its own transaction with conditional updates, so this is safe from cron and
    from the app's timer while desks work."""
    now = now or clock.now()
    expired = advanced = closed = 0
    for clinic in _CLINICS.rows():
        late = now + dt.timedelta(minutes=offer_time.min_notice(clinic))  # starts before: cut
        due = [offer_id for (offer_id,) in _DUE.rows(clinic=clinic.id, now=now, late=late)]
        for offer_id in due:
            with database.atomic():
                current, opening = lock_offer(offer_id)
                if current.status != vocab.OFFER_SENT:
                    continue  # a reply or another sweep got there first
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
        stale = [opening_id for (opening_id,) in _STALE.rows(clinic=clinic.id, late=late)]
        for opening_id in stale:
            with database.atomic():
                opening = get_opening(opening_id, lock=True)
                if opening.status != vocab.OPENING_OPEN:
                    continue
                for o in _OPENING_LIVE.rows(opening=opening.id):
                    expired += end_offer(o, PAST_DEADLINE, actor, now) is not None
                cause = "started" if opening.starts_at <= now else "too_late"
                closed += _close_opening(opening, cause, actor, now)
    return {"offers_expired": expired, "offers_advanced": advanced, "openings_closed": closed}
