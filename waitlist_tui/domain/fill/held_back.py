"""Which of the finder's candidates an offer made now would pass over, and why.

A candidate can fit the slot and still not be offered: the clinic spaces offers to one client
(`min_hours_between_offers`, offer_spacing.py) and caps them per day (`max_offers_per_day`).
The offer path (sending.py) skips such clients and the fairness record names the rule; the
finder shows it beforehand, on the candidate's row, so the desk is not surprised when `enter`
offers the slot to the next one down. The same two rules and the same words as the record
(fairness_words.REASONS).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import fn

from waitlist_tui.domain.fairness_words import REASONS
from waitlist_tui.domain.fill import offer_spacing
from waitlist_tui.domain.fill.matching import Candidate
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store.models import Clinic, Entry, Offer
from waitlist_tui.domain.store.prepared import PreparedFamily, param


def offers_today(client_ids: list[Any], clinic: Clinic, now: dt.datetime) -> dict[Any, int]:
    """Offers sent to each of these clients since the start of the clinic's day."""
    if not client_ids:
        return {}
    since = message_settings.day_start(now, clinic.time_zone)
    rows = _OFFERS_TODAY(len(client_ids)).rows(clients=client_ids, since=since)
    return {client_id: int(count) for client_id, count in rows}


_OFFERS_TODAY = PreparedFamily(  # per count of clients: its SQL built once
    lambda n: (
        Offer.select(Entry.client, fn.COUNT(Offer.id))
        .join(Entry)
        .where(Entry.client.in_(param("clients", size=n)), Offer.sent_at >= param("since"))
        .group_by(Entry.client)
        .tuples()
    )
)


def held_back(items: list[Candidate], clinic: Clinic, now: dt.datetime) -> dict[str, str]:
    """Entry id -> why an offer made now passes this candidate over ("contacted too
    recently: offered 3h ago", "daily offer limit reached: 3 offers today"). Candidates
    not held back are absent; no query when the clinic has neither rule."""
    cap = message_settings.of(clinic).max_offers_per_day
    if not items or (not cap and not offer_spacing.hours(clinic)):
        return {}
    clients = list({c.client_id for c in items})
    recent = offer_spacing.last_offers(clients, clinic, now)
    counts = offers_today(clients, clinic, now) if cap else {}
    held: dict[str, str] = {}
    for c in items:
        if c.client_id in recent:
            held[str(c.entry_id)] = (
                f"{REASONS['recent']}: {offer_spacing.ago(recent[c.client_id], now)}"
            )
        elif cap and counts.get(c.client_id, 0) >= cap:
            n = counts[c.client_id]
            offers = f"{n} offer{'s' if n != 1 else ''}"
            held[str(c.entry_id)] = f"{REASONS['daily_cap']}: {offers} today"
    return held
