"""Offering a slot: the one way the finder, the slots screen and the CLI offer a time.

`offer_slot` takes a `Slot` that is not an opening yet (a gap typed in, a free slot of an
entry's list) or an opening's id, and offers it to one entry, the best candidate or the top N.
A slot becomes its opening in the same transaction as the offers, so a refused offer (the
entry moved on, another desk took the time, nobody fits) leaves no stray opening behind.
"""

from __future__ import annotations

import uuid

from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.fill.availability import SlotGroup, find_matching_slots
from waitlist_tui.domain.fill.offer_views import OfferView
from waitlist_tui.domain.fill.openings import open_slot
from waitlist_tui.domain.fill.sending import offer
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Clinic, Entry, Provider

NOBODY_FOR_OPENING = "nobody on the waitlist can take this opening: no offer sent"
NOBODY_FOR_SLOT = "nobody on the waitlist can take this slot now; look again"


def slots_for_entry(entry_id: IdRef, limit: int = 60, *, field: str = "id") -> list[SlotGroup]:
    """The free slots the entry can take; `field` names the id in errors (the CLI's --entry)."""
    entry = ids.resolve(Entry, entry_id, "waitlist request", field=field)
    return find_matching_slots(entry, limit=limit)


def offer_slot(
    target: Slot | uuid.UUID | str,
    actor: str,
    *,
    entry_id: IdRef | None = None,
    workflow: str | None = None,
    top: int | None = None,
    hold_minutes: int | None = None,
    outside_hours_ok: bool = True,
) -> list[OfferView]:
    """Offer `target` (a Slot to open, or an opening's id or prefix): to `entry_id`, else to
    the best candidate (SEQUENTIAL) or the top N at once (BROADCAST). One transaction; the
    offers sent, best first. Nobody to offer it to is a Conflict, not an empty list.
    `outside_hours_ok` False: a Slot outside its provider's weekly hours is refused (open_slot)."""
    with database.atomic():
        if isinstance(target, Slot):
            clinic = Clinic.select().join(Provider).where(Provider.id == target.provider_id)
            opened = open_slot(target, actor, clinic.first(), outside_hours_ok)
            opening_id: IdRef = opened.id
        else:
            opening_id = target
        sent = offer(
            opening_id,
            actor,
            workflow=workflow,
            top=top,
            entry_id=entry_id,
            hold_minutes=hold_minutes,
        )
        if not sent:
            nobody = NOBODY_FOR_SLOT if isinstance(target, Slot) else NOBODY_FOR_OPENING
            raise Conflict(nobody, field="opening")
    return sent
