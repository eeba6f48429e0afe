"""Offer links: the short link an offer's message carries to a page on `serve` where the client
sees the slot and accepts, declines, or asks for no more offers.

The token is made as the message goes out (`with_link`, called by delivery), never when it is
queued, so the outbox keeps only `outbox.LINK_MARK` and no live token: 16 random bytes from
`secrets` (22 URL-safe characters), of which only the SHA-256 is stored (a high-entropy
token needs no slow hash; it cannot be guessed from a dictionary). A link is bound to its
offer and lives while the offer is sent and before its deadline: the offer ending any way
(accepted, declined, expired, rescinded, filled by another) ends the link with it, and a link
acts once. Reading a link (`view`) changes nothing; acting on it (`act`) goes through the
same functions as a reply or the desk (offer_replies.accept / decline), with the actor
"link", so the audit trail names the channel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clients import set_consent
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.fill import offer_replies
from waitlist_tui.domain.fill.ending import OPTED_OUT, end_offer
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    Offer,
    OfferLink,
    Opening,
    OutboxMessage,
    Provider,
    Service,
)

ACTOR = "link"  # the channel, as the audit trail names it
PATH = "/o/"  # a link is the clinic's public_url + PATH + token
TOKEN_BYTES = 16
ACCEPT, DECLINE, OPT_OUT = "accept", "decline", "opt_out"
ACTIONS = (ACCEPT, DECLINE, OPT_OUT)
DECLINE_NOTE, OPT_OUT_NOTE = "declined by link", "opted out by link"


class LinkGone(Conflict):
    """A real link that can no longer act: used, or its offer ended or ran out (a 410)."""


@dataclass(frozen=True)
class LinkView:
    """What the page shows: the slot in the clinic's time, and whether it can still act."""

    clinic: str
    first_name: str
    service: str
    provider: str
    slot: str  # clinic time, as messages write it
    deadline: str
    live: bool
    why_not: str  # "" when live: why the link can no longer act


@dataclass(frozen=True)
class LinkOutcome:
    action: str
    offer_id: uuid.UUID
    appointment_id: IdRef | None
    view: LinkView


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _well_formed(token: str) -> bool:
    """A token as `issue` makes them (cheap refusal of junk before the database)."""
    return (
        isinstance(token, str)
        and 16 <= len(token) <= 64
        and token.isascii()
        and all(c.isalnum() or c in "-_" for c in token)
    )


def issue(offer_id: Any, actor: str, now: dt.datetime) -> str:
    """A new token for the offer (its hash stored, with an audit row), in the caller's
    transaction or its own. The token itself is returned once and never kept."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with database.atomic():
        row = OfferLink.create(
            id=uuid.uuid4(), offer=offer_id, token_hash=token_hash(token), issued_at=now
        )
        audit.record(actor, "offer_link.issue", "offer", offer_id, {"link": [None, str(row.id)]})
    return token


def with_link(message: OutboxMessage, clinic: Clinic, actor: str) -> str:
    """The body to send: an offer message's LINK_MARK replaced by a fresh link (the clinic's
    public URL + /o/ + a new token), or by nothing when the clinic has no public URL now.
    Other messages go as they are."""
    body = str(message.body)
    if outbox.LINK_MARK not in body:
        return body
    base = message_settings.of(clinic).public_url
    if message.ref_type != "offer" or message.kind != "offer" or not base:
        return body.replace(outbox.LINK_MARK, "", 1).strip()
    token = issue(message.ref_id, actor, clock.now())
    return body.replace(outbox.LINK_MARK, f"{base}{PATH}{token}", 1)


def _find(token: str, lock: bool = False) -> tuple[OfferLink, Offer, Opening]:
    """The link and its offer; NotFound for a token nobody issued (or a malformed one)."""
    if not _well_formed(token):
        raise NotFound("link not found", field="token")
    query = OfferLink.select().where(OfferLink.token_hash == token_hash(token))
    link = (locked(query) if lock else query).first()
    if link is None:
        raise NotFound("link not found", field="token")
    offer = Offer.get_by_id(link.offer_id)
    return link, offer, Opening.get_by_id(offer.opening_id)


def _why_not(link: OfferLink, offer: Offer, opening: Opening, now: dt.datetime) -> str:
    if offer.status == vocab.OFFER_ACCEPTED:
        return "You have booked this slot already."
    if link.used_at is not None:
        return "This link has been used already."
    if offer.status != vocab.OFFER_SENT:
        if opening.status == vocab.OPENING_FILLED:
            return "Sorry, this slot has been taken by someone else. You stay on our waitlist."
        return "This offer has ended. You stay on our waitlist."
    if offer.expires_at <= now:
        return "The time to answer this offer has passed. You stay on our waitlist."
    if opening.status != vocab.OPENING_OPEN:
        return "This slot is no longer available. You stay on our waitlist."
    return ""


def _view(link: OfferLink, offer: Offer, opening: Opening, now: dt.datetime) -> LinkView:
    entry = Entry.get_by_id(offer.entry_id)
    client = Client.get_by_id(entry.client_id)
    clinic = Clinic.get_by_id(opening.clinic_id)
    service = Service.get_by_id(entry.service_id)
    provider = Provider.get_by_id(opening.provider_id)
    why = _why_not(link, offer, opening, now)
    return LinkView(
        clinic=clinic.name,
        first_name=client.first_name,
        service=service.name,
        provider=provider.name,
        slot=outbox.local_text(opening.starts_at, clinic.time_zone),
        deadline=outbox.local_text(offer.expires_at, clinic.time_zone),
        live=not why,
        why_not=why,
    )


def view(token: str) -> LinkView:
    """What a GET shows; it changes nothing (SMS apps fetch links to preview them).
    NotFound for an unknown token; a dead link still shows its slot, with why it is dead."""
    link, offer, opening = _find(token)
    return _view(link, offer, opening, clock.now())


def _opt_out(offer: Offer, actor: str, now: dt.datetime) -> None:
    """No more offers by message: SMS and email consent withdrawn (consent rules: nothing
    goes without consent), and each live offer of the client ended (opted_out)."""
    entry = Entry.get_by_id(offer.entry_id)
    client = Client.get_by_id(entry.client_id)
    live = (
        Offer.select()
        .join(Entry)
        .where(Entry.client == client.id, Offer.status == vocab.OFFER_SENT)
        .order_by(Offer.sent_at, Offer.id)
    )
    for other in list(live):
        end_offer(other, OPTED_OUT, actor, now, OPT_OUT_NOTE)
    set_consent(
        client, {"consent_sms": False, "consent_email": False}, actor, "asked by offer link"
    )


def act(token: str, action: str, actor: str = ACTOR) -> LinkOutcome:
    """Accept, decline or opt out through a link, once. NotFound for an unknown token,
    LinkGone for a used or dead one (nothing changes); the offer's own rules refuse the rest
    (Conflict from offer_replies). One transaction: the link marked used with its audit row,
    and what the answer did."""
    if action not in ACTIONS:
        raise ValidationError(f"action must be one of {', '.join(ACTIONS)}", field="action")
    now = clock.now()
    appointment_id = None
    with database.atomic():
        link, offer, opening = _find(token, lock=True)
        why = _why_not(link, offer, opening, now)
        if why:
            raise LinkGone(why, field="token")
        used = (
            OfferLink.update(used_at=now, used_for=action)
            .where(OfferLink.id == link.id, OfferLink.used_at.is_null())
            .execute()
        )
        if used != 1:
            raise LinkGone("This link has been used already.", field="token")
        audit.record(
            actor,
            "offer_link.use",
            "offer",
            offer.id,
            {"link": [None, str(link.id)], "action": [None, action], "channel": [None, ACTOR]},
        )
        if action == ACCEPT:
            reply = offer_replies.accept(offer.id, actor)
            appointment_id = reply.appointment_id
        elif action == DECLINE:
            offer_replies.decline(offer.id, actor, note=DECLINE_NOTE)
        else:
            _opt_out(offer, actor, now)
    link, offer, opening = _find(token)
    return LinkOutcome(action, offer.id, appointment_id, _view(link, offer, opening, now))


__all__ = [
    "ACTIONS",
    "LinkGone",
    "LinkOutcome",
    "LinkView",
    "act",
    "issue",
    "token_hash",
    "view",
    "with_link",
]
