"""Phone calls about a sent offer: what the desk logs while it tries to reach the client.

An attempt is an audit row (action "offer.contact_attempt", changes {"outcome", "note"})
rather than a table of its own: it is a fact about who did what and when, and reading it back
only needs the audit index (object_type, object_id, at). Some outcomes also end the offer,
in the same transaction as the row that records the call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.offers import (
    DECLINED,
    OfferView,
    Reply,
    end_offer,
    get_offer,
    lock_offer,
)
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import AuditEvent, Offer, Opening
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import iso

NO_ANSWER, VOICEMAIL, DECLINED_BY_PHONE = "no_answer", "voicemail", "declined_by_phone"
OUTCOMES = (NO_ANSWER, VOICEMAIL, DECLINED_BY_PHONE)
OUTCOME_LABELS = {
    NO_ANSWER: "no answer",
    VOICEMAIL: "voicemail",
    DECLINED_BY_PHONE: "declined by phone",
}
ACTION = "offer.contact_attempt"
NOTE_MAX = 500


@dataclass(frozen=True)
class AttemptSummary:
    """How often the desk called about one offer, and how the last call went."""

    count: int = 0
    last_outcome: str | None = None
    last_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        """'2 calls · voicemail'; empty before the first call."""
        if not self.count:
            return ""
        calls = "1 call" if self.count == 1 else f"{self.count} calls"
        return f"{calls} · {OUTCOME_LABELS.get(self.last_outcome or '', self.last_outcome)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last_outcome": self.last_outcome,
            "last_at": iso(self.last_at),
        }


@dataclass(frozen=True)
class AttemptReply(Reply):
    """A Reply plus what the call changed: `released` says the offer ended with it."""

    outcome: str = ""
    attempts: AttemptSummary = field(default_factory=AttemptSummary)
    released: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "outcome": self.outcome,
            "released": self.released,
            "attempts": self.attempts.to_dict(),
        }


def summaries(offer_ids: list[Any]) -> dict[str, AttemptSummary]:
    """Attempts per offer, keyed by str(offer id), in one query (a list screen's worth)."""
    keys = [str(i) for i in offer_ids]
    if not keys:
        return {}
    rows = (
        AuditEvent.select(AuditEvent.object_id, AuditEvent.at, AuditEvent.changes)
        .where(
            AuditEvent.object_type == "offer",
            AuditEvent.object_id.in_(keys),
            AuditEvent.action == ACTION,
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    found: dict[str, AttemptSummary] = {}
    for row in rows:
        before = found.get(row.object_id, AttemptSummary())
        found[row.object_id] = AttemptSummary(
            before.count + 1, (row.changes or {}).get("outcome"), row.at
        )
    return found


def summary(offer_id: IdRef) -> AttemptSummary:
    return summaries([offer_id]).get(str(offer_id), AttemptSummary())


def _validated(outcome: str, note: str) -> str:
    if outcome not in OUTCOMES:
        raise ValidationError(
            f"outcome must be one of {', '.join(OUTCOMES)}",
            field="outcome",
            data={"allowed": list(OUTCOMES)},
        )
    if isinstance(note, str) and len(note.strip()) > NOTE_MAX:
        raise ValidationError(f"note must be at most {NOTE_MAX} characters", field="note")
    return text_value(note, "note", max_len=NOTE_MAX, multiline=True)


def _sent(offer_id: IdRef, now: dt.datetime) -> tuple[Offer, Opening]:
    """Lock the opening, re-read the offer, and refuse anything but a live sent offer, naming
    the state the offer is actually in (another desk may have answered it meanwhile)."""
    current, opening = lock_offer(offer_id)
    if current.status != vocab.OFFER_SENT:
        raise Conflict(
            f"offer is {current.status}; only a sent offer takes a call",
            data={"offer_status": current.status},
        )
    if offer_time.is_too_late(opening.clinic, opening.starts_at, now):
        raise Conflict(offer_time.too_late_text(opening.clinic, opening.starts_at, now))
    if current.expires_at <= now:
        raise Conflict(
            "offer is expired: its hold ran out", data={"expires_at": iso(current.expires_at)}
        )
    if opening.status != vocab.OPENING_OPEN:
        raise Conflict(f"opening is {opening.status}", data={"opening_status": opening.status})
    return current, opening


def log_attempt(offer_id: IdRef, outcome: str, actor: str, note: str = "") -> AttemptReply:
    """Record a call about a sent offer, in one transaction with whatever it changes.

    - voicemail: recorded only; the offer keeps its hold.
    - declined_by_phone: a decline (status declined, the note kept, the entry waits again)
      and a SEQUENTIAL opening goes to the next candidate.
    - no_answer: recorded; when the clinic's `no_answer_advances` is on, the offer is released
      as *expired* with the note "no answer" and a SEQUENTIAL opening moves on. Expired, not
      declined: the client never said no, the desk just stopped waiting for a reply, which is
      what an expired offer means; reports keep counting declines as the client's own answer.
      When the setting is off the call is only recorded.
    """
    note = _validated(outcome, note)
    now = clock.now()
    with database.atomic():
        current, opening = _sent(offer_id, now)
        audit.record(actor, ACTION, "offer", current.id, {"outcome": outcome, "note": note})
        release: tuple[str, str] | None = None
        if outcome == DECLINED_BY_PHONE:
            release = (DECLINED, note or OUTCOME_LABELS[DECLINED_BY_PHONE])
        elif outcome == NO_ANSWER and opening.clinic.no_answer_advances:
            release = (NO_ANSWER, f"no answer · {note}" if note else "no answer")
        following: tuple[OfferView, ...] = ()
        if release:
            ended = end_offer(current, release[0], actor, now, release[1])
            if ended is None:
                raise Conflict("offer changed meanwhile; look again")
            following = ended.next_offers
    return AttemptReply(
        get_offer(current.id),
        None,
        tuple(following),
        outcome=outcome,
        attempts=summary(current.id),
        released=release is not None,
    )
