"""A reply to an offer, taken on the phone: the call that makes it and the words the
status line tells it in. The decisions are the domain's; no widgets here."""

from __future__ import annotations

from dataclasses import dataclass, field

from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import contact_attempts, offers
from waitlist_tui.domain.fill.offers import OfferView, Reply
from waitlist_tui.domain.messaging import receipts
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui.formatting import slot_text


@dataclass(frozen=True)
class Loaded:
    """The sent offers as a worker hands them to the screen."""

    offers: tuple[OfferView, ...] = ()
    attempts: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # offer id -> how far its SMS got
    clinic_name: str = ""
    time_zone: str = "UTC"
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an action did, in the words of the status line."""

    message: str
    error: bool = False


@dataclass(frozen=True)
class Answer:
    """A reply taken on the phone: what the domain did, or why it would not."""

    verb: str
    view: OfferView
    reply: Reply | None
    refused: str = ""


def answer(verb: str, view: OfferView, staff: str, outcome: str = "", note: str = "") -> Answer:
    """One reply; a refusal is a value here, as its reason is read on the same connection
    (who took the slot)."""
    try:
        if verb == "accept":
            reply = offers.accept(view.id, staff)
        elif verb == "decline":
            reply = offers.decline(view.id, staff)
        elif verb == "rescind":
            reply = offers.rescind(view.id, staff)
        else:
            reply = contact_attempts.log_attempt(view.id, outcome, staff, note)
        return Answer(verb, view, reply)
    except DomainError as err:
        return Answer(verb, view, None, offers.taken_by(view.id) or err.message)


def read_offers() -> Loaded:
    """The sent offers, their call counts, and how far each offer's text got."""
    try:
        clinic = get_clinic()
        views = offers.list_offers(clinic=clinic)
        counts = contact_attempts.summaries([v.id for v in views])
        return Loaded(
            tuple(views),
            {key: s.label for key, s in counts.items()},
            receipts.offer_texts([v.id for v in views]),
            clinic.name,
            clinic.time_zone,
        )
    except DomainError as err:
        return Loaded(error=err.message)


def knock_on(reply: offers.Reply) -> str:
    """' · later appointment released (7.0 days sooner), offered to Ben' after an accept
    that gave a later appointment back (fill/knock_on.py); nothing otherwise."""
    freed = reply.knock_on
    if freed is None:
        return ""
    if freed.opening_id is None:
        return f" · later appointment released ({freed.days_sooner} days sooner)"
    offered = ", ".join(printable(o.client_name) for o in freed.offers)
    then = f", offered to {offered}" if offered else ", now an open opening"
    return f" · later appointment released ({freed.days_sooner} days sooner){then}"


def outcome(said: Answer, time_zone: str) -> Outcome:
    """The status line after a reply, naming anyone who got the opening next."""
    view, reply = said.view, said.reply
    who = printable(view.client_name)
    if reply is None:
        what = {"accept": "book", "attempt": "log the call for"}.get(said.verb, said.verb)
        return Outcome(f"Could not {what} {who}: {said.refused}", True)
    following = ", ".join(printable(o.client_name) for o in reply.next_offers)
    nxt = f" · next offer sent to {following}" if following else ""
    if said.verb == "accept":
        slot = slot_text(view.slot_start, time_zone)
        return Outcome(f"Booked {who} · {slot} with {view.provider_code}{knock_on(reply)}")
    if said.verb == "decline":
        return Outcome(f"Declined for {who}{nxt or ' · no next offer sent'}")
    if said.verb == "rescind":
        return Outcome(f"Rescinded the offer to {who}; they wait again")
    if isinstance(reply, contact_attempts.AttemptReply):
        count = reply.attempts.count
        calls = f"{count} call{'s' if count != 1 else ''}"
        label = contact_attempts.OUTCOME_LABELS[reply.outcome]
        released = f" · offer {reply.offer.status}" if reply.released else ""
        return Outcome(f"Logged {label} for {who} ({calls}){released}{nxt}")
    return Outcome(f"{said.verb}: {who}")
