"""From a person to a slot: the free slots an entry can take, and offering one of them.

Offering a slot that is not an opening yet creates the opening and the offer in one
transaction, so a refused offer (the entry moved on, another desk took the time) leaves no
stray opening behind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain.fill.availability import SlotGroup, find_matching_slots
from waitlist_tui.domain.fill.offers import OfferView, offer
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Entry, Provider


def slots_for_entry(entry_id: Any, limit: int = 60, *, field: str = "id") -> list[SlotGroup]:
    """The free slots the entry can take; `field` names the id in errors (the CLI's --entry)."""
    entry = ids.resolve(Entry, entry_id, "waitlist request", field=field)
    return find_matching_slots(entry, limit=limit)


def offer_slot(
    entry_id: Any, provider_id: Any, start: dt.datetime, actor: str, hold_minutes: int | None = None
) -> OfferView:
    """Open the slot (the entry's service length, from `start`) and offer it to the entry."""
    with database.atomic():
        entry = ids.resolve(Entry, entry_id, "waitlist request")
        provider = Provider.get_by_id(provider_id)
        clinic = entry.clinic
        local = start.astimezone(ZoneInfo(clinic.time_zone))
        opening = add_opening(
            provider.code,
            local.replace(tzinfo=None).isoformat(timespec="minutes"),
            entry.service.duration_minutes,
            actor,
            service=entry.service.code,
            later=bool(local.fold),
            clinic=clinic,
        )
        sent = offer(opening.id, actor, entry_id=entry.id, hold_minutes=hold_minutes)
    return sent[0]
