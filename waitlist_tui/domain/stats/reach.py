"""Figures of reach beside stats(): messages that went out, and waiting entries nobody
offered anything in a period. Read only; the what-if comparison reads them with stats() so
that a simulated month and the dashboard count alike."""

from __future__ import annotations

import datetime as dt

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store.models import Clinic, Entry, Offer, OutboxMessage


def messages_sent(clinic: Clinic, since: dt.datetime, until: dt.datetime) -> int:
    """Messages the outbox sent in [since, until)."""
    return int(
        OutboxMessage.select()
        .where(
            OutboxMessage.clinic == clinic,
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= since,
            OutboxMessage.sent_at < until,
        )
        .count()
    )


def never_offered(clinic: Clinic, since: dt.datetime, until: dt.datetime) -> int:
    """Entries still waiting at the end of [since, until), created before its end, that were
    sent no offer in it."""
    offered = Offer.select(Offer.entry).where(Offer.sent_at >= since, Offer.sent_at < until)
    return int(
        Entry.select()
        .where(
            Entry.clinic == clinic,
            Entry.status == vocab.WAITING,
            Entry.created_at < until,
            Entry.id.not_in(offered),
        )
        .count()
    )
