"""How soon the same client may be offered again: the clinic's `min_hours_between_offers`.

A client who was offered a slot (any of their entries, any opening) less than that many hours
ago is passed over when an opening is offered, and the fairness record says so ("contacted too
recently: offered 3h ago"). It spares a client a run of texts in one afternoon, which the daily
cap alone does not (three offers inside an hour are under a cap of 3). The `[clinic]` setting,
a whole number of hours, 0 (the default) turns it off; it is kept in `clinic.settings`.

    [clinic]
    min_hours_between_offers = 4
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import fn

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.models import Entry, Offer

SETTING = "min_hours_between_offers"
DEFAULT = 0
MAX_HOURS = 720  # thirty days: beyond that a clinic means "never again", which is not this


def parse(value: Any, where: str = f"clinic.{SETTING}") -> int:
    """The set-up or settings file's value: whole hours from 0 (off) to MAX_HOURS."""
    if value is None:
        return DEFAULT
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_HOURS:
        raise ValidationError(
            f"{where} must be a whole number of hours from 0 (off) to {MAX_HOURS}, got {value!r}",
            field=where,
        )
    return value


def hours(clinic: Any) -> int:
    stored = (clinic.settings or {}).get(SETTING)
    return DEFAULT if stored is None else int(stored)


def last_offers(client_ids: list[Any], clinic: Any, now: dt.datetime) -> dict[Any, dt.datetime]:
    """Each of these clients offered inside the clinic's spacing, with their latest offer's
    time. Empty when the setting is off (no query)."""
    spacing = hours(clinic)
    if not spacing or not client_ids:
        return {}
    since = now - dt.timedelta(hours=spacing)
    rows: Any = (
        Offer.select(Entry.client, fn.MAX(Offer.sent_at))
        .join(Entry)
        .where(Entry.client.in_(list(set(client_ids))), Offer.sent_at > since)
        .group_by(Entry.client)
        .tuples()
    )
    return {client_id: _aware(at) for client_id, at in rows}


def _aware(at: Any) -> dt.datetime:
    """MAX() of a timestamp comes back as the driver gives it (SQLite: text)."""
    when: dt.datetime = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def ago(at: dt.datetime, now: dt.datetime) -> str:
    """'offered 3h ago' (minutes under an hour): how the record words the last offer."""
    minutes = max(0, int((now - at).total_seconds() // 60))
    return f"offered {minutes // 60}h ago" if minutes >= 60 else f"offered {minutes} min ago"


def too_soon_message(at: dt.datetime, now: dt.datetime, clinic: Any) -> str:
    return (
        f"this client was {ago(at, now)}; the clinic waits {hours(clinic)}h between offers "
        f"to the same client ({SETTING})"
    )
