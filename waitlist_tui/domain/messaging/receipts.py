"""Delivery receipts: what the SMS provider's status callbacks say about a text it took.

Twilio calls back with the message's sid and its status as it moves: queued, sending, sent,
then one of delivered, undelivered or failed. Callbacks may arrive twice or out of order, so a
status is written only when it is further along than the one kept: a final status is never
replaced (a late `sent` after `delivered` changes nothing), and a repeat writes nothing.
Each change leaves its audit row (message.delivery). On PostgreSQL the row is read FOR NO KEY
UPDATE, so two callbacks at once take turns; SQLite's write transaction serialises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import audit, locking
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import OutboxMessage

DELIVERED, UNDELIVERED, FAILED = "delivered", "undelivered", "failed"
FINAL = (DELIVERED, UNDELIVERED, FAILED)
# how far along each status Twilio reports is; unknown ones are ignored
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    DELIVERED: 3,
    UNDELIVERED: 3,
    FAILED: 3,
    "read": 3,
}
ACTOR = "sms-provider"


@dataclass(frozen=True)
class ReceiptResult:
    found: bool  # an outbox row has this provider id
    changed: bool  # the status moved on (False: a repeat, or older news)
    status: str | None  # the status kept now


def record_status(provider_id: str, status: str, error_code: str | None = None) -> ReceiptResult:
    """Keep what a status callback says about the text with this provider id."""
    status = (status or "").strip().lower()
    code = (error_code or "").strip()[:16] or None
    with database.atomic():
        query = OutboxMessage.select().where(OutboxMessage.provider_message_id == provider_id[:200])
        row = locking.locked(query, no_key=True).first()  # two callbacks at once take turns
        if row is None:
            return ReceiptResult(False, False, None)
        if status == "read":
            status = DELIVERED
        kept = row.delivery_status
        if status not in RANK or (kept is not None and RANK[status] <= RANK.get(kept, -1)):
            return ReceiptResult(True, False, kept)
        now = clock.now()
        OutboxMessage.update_by(
            None, now, delivery_status=status, delivery_error=code, delivery_at=now
        ).where(OutboxMessage.id == row.id).execute()
        audit.record(
            ACTOR,
            "message.delivery",
            "message",
            row.id,
            {"delivery_status": [kept, status], "error_code": [row.delivery_error, code]},
        )
        return ReceiptResult(True, True, status)


PHONE_THEM = "phone them"  # the text did not reach the client (undelivered, failed, dead)


def text_label(status: str, delivery_status: str | None) -> str:
    """How far an offer's text got, in the desk's words."""
    if delivery_status == DELIVERED:
        return "delivered"
    if delivery_status in (UNDELIVERED, FAILED) or status == "dead":
        return PHONE_THEM
    if status == "sent":
        return "sent"
    return "retrying" if status == "failed" else "queued"


def offer_texts(offer_ids: list[Any]) -> dict[str, str]:
    """For each offer whose offer message went by SMS: how far it got (offer id -> label).
    One query for the lot; an offer told by email, or not at all, is left out."""
    if not offer_ids:
        return {}
    keys = {outbox.offer_key(i, "offer"): str(i) for i in offer_ids}
    rows = OutboxMessage.select(
        OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.delivery_status
    ).where(OutboxMessage.idempotency_key.in_(list(keys)), OutboxMessage.channel == outbox.SMS)
    return {keys[r.idempotency_key]: text_label(r.status, r.delivery_status) for r in rows}
