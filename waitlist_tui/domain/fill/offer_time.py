"""An offer's deadline: the earlier of its hold and the slot's notice cutoff.

A clinic stops offering a slot `min_notice` minutes before it starts (the `[clinic]` setting
`min_notice`, default 60, kept in `clinic.settings`), so an offer can never outlive its slot:

    deadline = min(hold start + hold, slot start - min_notice)

The hold starts when the offer is made, except for a SEQUENTIAL offer whose message waits for
quiet hours: its hold starts when the message goes out (the opening is blocked for one client
at a time, so that client must get the whole hold). A message that could only go out at or after
the deadline is not sent at all: the desk phones instead.

Every path asks here (offer, accept, SMS reply, opening a slot, delivery, the expiry job), so
there is one rule, and screens only show what it says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import Conflict, DomainError, ValidationError
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store.prepared import Prepared, param

DEFAULT_MIN_NOTICE = 60
MAX_MIN_NOTICE = 10080  # a week: far beyond any hold, small enough for date arithmetic
SETTING = "min_notice"
PHONE_QUIET = "phone: the message would wait for quiet hours past the deadline"
HOLD_MOVE_MINIMUM = dt.timedelta(minutes=1)  # smaller moves are not worth an audit row


def parse_min_notice(value: Any, where: str = "clinic.min_notice") -> int:
    """The set-up file's value: a whole number of minutes, 0 (until the slot starts) or more."""
    if value is None:
        return DEFAULT_MIN_NOTICE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MIN_NOTICE:
        raise ValidationError(
            f"{where} must be a whole number of minutes from 0 to {MAX_MIN_NOTICE}, got {value!r}",
            field=where,
        )
    return value


def min_notice(clinic: Any) -> int:
    """Minutes before a slot's start after which it is no longer offered."""
    stored = (clinic.settings or {}).get(SETTING)
    return DEFAULT_MIN_NOTICE if stored is None else int(stored)


def cutoff(clinic: Any, slot_start: dt.datetime) -> dt.datetime:
    """The last moment the slot may be offered, opened or accepted."""
    return slot_start - dt.timedelta(minutes=min_notice(clinic))


def deadline(clinic: Any, slot_start: dt.datetime, expires_at: dt.datetime) -> dt.datetime:
    """An offer's true deadline: its stored hold, capped by the slot's cutoff (a cap the
    clinic's min_notice may have moved since the offer was made)."""
    return min(expires_at, cutoff(clinic, slot_start))


def _local(at: dt.datetime, clinic: Any) -> dt.datetime:
    return at.astimezone(ZoneInfo(clinic.time_zone))


def too_late_text(clinic: Any, slot_start: dt.datetime, now: dt.datetime) -> str:
    """'too late: the slot starts at 09:00 (offers close 60 minutes before)', clinic time."""
    start = _local(slot_start, clinic)
    when = (
        f"{start:%H:%M}"
        if start.date() == _local(now, clinic).date()
        else f"{start:%a %d %b %H:%M}"
    )
    if slot_start <= now:
        return f"too late: the slot started at {when}"
    notice = min_notice(clinic)
    return f"too late: the slot starts at {when} (offers close {notice} minutes before)"


def is_too_late(clinic: Any, slot_start: dt.datetime, now: dt.datetime) -> bool:
    return now >= cutoff(clinic, slot_start)


def check_in_time(
    clinic: Any,
    slot_start: dt.datetime,
    now: dt.datetime,
    error: type[DomainError] = Conflict,
    field: str | None = None,
) -> None:
    """Refuse (Conflict 4090 for offers and replies, ValidationError 4000 for a typed slot)
    once the slot's cutoff has passed."""
    if is_too_late(clinic, slot_start, now):
        raise error(
            too_late_text(clinic, slot_start, now),
            field=field,
            data={"slot_start": slot_start.isoformat(), "min_notice": min_notice(clinic)},
        )


@dataclass(frozen=True)
class OfferTerms:
    """What an offer made now would be: its deadline, when its message would go out (None: no
    message), and why the desk must phone instead ("" when the message can go in time)."""

    deadline: dt.datetime
    message_at: dt.datetime | None
    phone_instead: str = ""
    capped: bool = False  # the slot's cutoff, not the hold, sets the deadline

    def to_dict(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "message_at": (
                self.message_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
                if self.message_at
                else None
            ),
            "phone_instead": self.phone_instead,
            "capped_by_slot": self.capped,
        }


def terms(
    clinic: Any,
    slot_start: dt.datetime,
    hold_minutes: int,
    now: dt.datetime,
    workflow: str,
    can_message: bool = True,
) -> OfferTerms:
    """The deadline and message timing of an offer made at `now` (the caller has checked the
    cutoff). A SEQUENTIAL hold starts when the message goes out; a message that could only go
    at or after the deadline is not sent."""
    hold = dt.timedelta(minutes=hold_minutes)
    cut = cutoff(clinic, slot_start)
    plain = min(now + hold, cut)
    if not can_message:
        return OfferTerms(plain, None, capped=plain == cut)
    quiet = message_settings.of(clinic).quiet_hours
    goes = message_settings.quiet_until(now, clinic.time_zone, quiet)
    starts = goes if workflow == vocab.SEQUENTIAL else now
    ends = min(starts + hold, cut)
    if goes >= ends:
        return OfferTerms(plain, None, PHONE_QUIET, capped=plain == cut)
    return OfferTerms(ends, goes, capped=ends == cut)


# --- delivery: an offer's message goes out before its deadline, or not at all ------------------


def _offer_parties_query() -> Any:
    from waitlist_tui.domain.store.models import Clinic, Offer, Opening

    return (  # only what undeliverable and hold_starts read (whole rows cost more to build)
        Offer.select(
            Offer.id,
            Offer.status,
            Offer.expires_at,
            Opening.id,
            Opening.starts_at,
            Opening.workflow,
            Clinic.id,
            Clinic.default_workflow,
            Clinic.offer_hold_minutes,
            Clinic.settings,  # the slot's cutoff (min_notice)
        )
        .join(Opening)
        .join(Clinic)
        .where(Offer.id == param("offer"))
        .limit(1)
    )


# Asked twice per offer message delivered (undeliverable, hold_starts): one joined read, its
# SQL built once (store/prepared.py), rather than three reads by key.
_OFFER_OPENING_CLINIC = Prepared(_offer_parties_query)


def _offer_of(message: Any) -> tuple[Any, Any, Any] | None:
    """(offer, opening, clinic) of an offer's own message; None for any other message."""
    if message.ref_type != "offer" or message.kind != "offer":
        return None
    for offer in _OFFER_OPENING_CLINIC.rows(offer=message.ref_id):
        return offer, offer.opening, offer.opening.clinic
    return None


def _sequential(opening: Any, clinic: Any) -> bool:
    return bool((opening.workflow or clinic.default_workflow) == vocab.SEQUENTIAL)


def undeliverable(message: Any, goes_at: dt.datetime) -> str:
    """Why an offer's message must not go out at `goes_at` ("" when it may): the offer ended
    before its message went, or the message would reach the client at or after the deadline
    (a SEQUENTIAL hold moves with the message, so only the slot's cutoff counts for it)."""
    found = _offer_of(message)
    if found is None:
        return ""
    offer, opening, clinic = found
    if offer.status != vocab.OFFER_SENT:
        return f"not sent: the offer was {offer.status} before its message went out"
    cut = cutoff(clinic, opening.starts_at)
    last = cut if _sequential(opening, clinic) else min(offer.expires_at, cut)
    if goes_at >= last:
        return "not sent: it would reach the client after the offer's deadline; phone them"
    return ""


def _hold_query() -> Any:
    from waitlist_tui.domain.store.models import AuditEvent

    return (
        AuditEvent.select(AuditEvent.changes)
        .where(
            AuditEvent.object_type == "offer",
            AuditEvent.object_id == param("offer"),
            AuditEvent.action == "offer.send",
        )
        .limit(1)
    )


_HOLD = Prepared(_hold_query)  # asked for every SEQUENTIAL offer message delivered


def hold_minutes(offer: Any, clinic: Any) -> int:
    """The hold the offer was made with (its offer.send audit row), else the clinic's."""
    row = next(iter(_HOLD.rows(offer=str(offer.id))), None)
    held = (row.changes or {}).get("hold_minutes") if row else None
    return int(held[1]) if held else int(clinic.offer_hold_minutes)


def hold_starts(message: Any, at: dt.datetime, actor: str = "delivery") -> dt.datetime | None:
    """A SEQUENTIAL offer's hold starts when its message goes out: when delivery sends it
    later than planned, or defers it (quiet hours began since it was queued), the deadline
    moves to `at` + hold, never past the slot's cutoff. Returns the new deadline (None:
    unchanged)."""
    from waitlist_tui.domain.store import audit
    from waitlist_tui.domain.store.db import database
    from waitlist_tui.domain.store.models import Offer

    found = _offer_of(message)
    if found is None:
        return None
    offer, opening, clinic = found
    if offer.status != vocab.OFFER_SENT or not _sequential(opening, clinic):
        return None
    moved = min(
        at + dt.timedelta(minutes=hold_minutes(offer, clinic)),
        cutoff(clinic, opening.starts_at),
    )
    if moved - offer.expires_at < HOLD_MOVE_MINIMUM:
        return None
    with database.atomic():
        rows = (
            Offer.update_by(actor, at, expires_at=moved, version=Offer.version + 1)
            .where(
                Offer.id == offer.id,
                Offer.status == vocab.OFFER_SENT,
                Offer.expires_at == offer.expires_at,
            )
            .execute()
        )
        if rows != 1:
            return None
        audit.record(
            actor,
            "offer.hold_moved",
            "offer",
            offer.id,
            {"expires_at": [audit.plain(offer.expires_at), audit.plain(moved)]},
        )
    return moved
