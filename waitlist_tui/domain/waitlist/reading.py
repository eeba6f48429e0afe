"""Reading entries as views: one by id, a page's rows, and what an entry's offers were.

A view is built from tuples (no model instance per entry, client and service) and carries
its preferred providers, read for all the rows at once (one query per page, not per row).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from peewee import ModelSelect

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import NotFound
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.db import plain_rows
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    Client,
    Entry,
    EntryProvider,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.timeutil import iso
from waitlist_tui.domain.waitlist.refs import NOT_FOUND
from waitlist_tui.domain.waitlist.views import ENTRY_VIEW_FIELDS, EntryView, ProviderBrief


def _providers_of(entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ProviderBrief]]:
    result: dict[uuid.UUID, list[ProviderBrief]] = defaultdict(list)
    if not entry_ids:
        return result
    columns = (EntryProvider.entry, Provider.id, Provider.code, Provider.name)
    query = (
        EntryProvider.select(*columns)
        .join(Provider)
        .where(EntryProvider.entry.in_(list(entry_ids)))
        .order_by(Provider.code)
    )
    for entry_id, *provider in plain_rows(query, columns):
        result[entry_id].append(ProviderBrief(*provider))
    return result


def views_of(entries: list[Entry]) -> list[EntryView]:
    """Views of rows read with `joined()` (their client and service already loaded)."""
    providers = _providers_of([e.id for e in entries])
    return [EntryView.of(e, providers.get(e.id, [])) for e in entries]


# A page's columns in EntryView.from_row's order: read as tuples, a page builds without a
# model instance per entry, client and service (about a third of a queue page's time).
BRIEF_COLUMNS = (  # what a view shows of the client and of the service
    Client.id,
    Client.first_name,
    Client.last_name,
    Client.phone,
    Client.email,
    Service.id,
    Service.code,
    Service.name,
    Service.duration_minutes,
)
VIEW_COLUMNS = (*(getattr(Entry, name) for name in ENTRY_VIEW_FIELDS), *BRIEF_COLUMNS)


def page_views(where: Any, order: tuple[Any, ...], limit: int, offset: int) -> list[EntryView]:
    """One page of views in `order`: two queries whatever the page's length."""
    query = (
        Entry.select(*VIEW_COLUMNS)
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(where)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    rows = plain_rows(query, VIEW_COLUMNS)
    providers = _providers_of([row[0] for row in rows])
    return [EntryView.from_row(tuple(row), providers.get(row[0], ())) for row in rows]


def joined() -> ModelSelect[Entry]:
    """Entries with just the client and service columns a view shows (a page builds fast)."""
    return Entry.select(Entry, *BRIEF_COLUMNS).join(Client).switch(Entry).join(Service)


def get(entry_id: IdRef) -> EntryView:
    """One entry's view by id or unique prefix; 4040 when there is none."""
    try:
        entry = ids.resolve(Entry, entry_id, "waitlist request", query=joined())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    return views_of([entry])[0]


def offers_detail(entry_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The entry's invites and the distinct openings they were for (`--include-offers`)."""
    rows = (
        Offer.select(Offer, Opening, Provider)
        .join(Opening)
        .join(Provider)
        .where(Offer.entry == entry_id)
        .order_by(Offer.sent_at)
    )
    invites: list[dict[str, Any]] = []
    openings: dict[uuid.UUID, dict[str, Any]] = {}
    for offer in rows:
        opening = offer.opening
        invites.append(
            {
                "invite_id": str(offer.id),
                "waitlist_id": str(opening.id),
                "opening_id": str(opening.id),
                "status": offer.status,
                "match_type": offer.match_type,
                "slot_start": iso(opening.starts_at),
                "slot_end": iso(opening.ends_at),
                "sent_at": iso(offer.sent_at),
                "expires_at": iso(offer.expires_at),
                "responded_at": iso(offer.responded_at),
            }
        )
        openings[opening.id] = {
            "id": str(opening.id),
            "provider_id": str(opening.provider.id),
            "provider": opening.provider.code,
            "slot_start": iso(opening.starts_at),
            "slot_end": iso(opening.ends_at),
            "status": opening.status,
            "workflow_type": opening.workflow,
        }
    return {"matched_invites": invites, "matched_waitlists": list(openings.values())}


def live_offers(
    entry_ids: list[uuid.UUID],
) -> dict[uuid.UUID, tuple[dt.datetime, dt.datetime, str]]:
    """Each entry's sent offer: (expires, slot start, provider code), for the queue's
    countdown column and the detail pane (which showed neither the slot nor its deadline)."""
    if not entry_ids:
        return {}
    query = (
        Offer.select(Offer.entry, Offer.expires_at, Opening.starts_at, Provider.code)
        .join(Opening)
        .join(Provider)
        .where(Offer.entry.in_(entry_ids), Offer.status == vocab.OFFER_SENT)
        .tuples()
    )
    # .tuples() yields tuples where peewee's stubs say models: the row's shape, spelt out.
    rows = cast(Iterable[tuple[uuid.UUID, dt.datetime, dt.datetime, str]], query)
    return {entry: (expires, start, code) for entry, expires, start, code in rows}
