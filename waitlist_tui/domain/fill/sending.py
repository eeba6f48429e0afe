"""Sending offers: an opening to the best candidate (SEQUENTIAL), the top N at once
(BROADCAST) or one chosen entry, each offer with its deadline (offer_time.py) and its message,
in one transaction that holds the opening's row lock. The clinic's daily offer limit per
client is counted here, this call's offers included, and a client offered less than the
clinic's `min_hours_between_offers` ago is passed over (offer_spacing.py). The workflow,
hold and broadcast size not chosen by the caller come from the clinic's lead-time rules
(lead_time.py), and the ranking the desk saw is recorded with the offers (fairness.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from peewee import SQL, IntegrityError

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.fill import fairness, lead_time, offer_spacing, offer_time
from waitlist_tui.domain.fill.held_back import offers_today
from waitlist_tui.domain.fill.matching import Candidate, SlotShape, candidates
from waitlist_tui.domain.fill.offer_views import FILLED, OfferView, views_of
from waitlist_tui.domain.fill.openings import get_opening
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    Offer,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.store.prepared import Prepared, PreparedFamily, param
from waitlist_tui.domain.store.transitions import move


def _send(
    opening: Opening,
    parties: outbox.SlotParties,
    chosen: Candidate,
    hold: int,
    flow: str,
    actor: str,
    now: dt.datetime,
) -> Offer:
    """One offer and its message, with the deadline offer_time gives it. A message that could
    only go out at or after that deadline (quiet hours) is not queued: the desk phones.
    `parties` are the rows the caller read once for the whole batch."""
    entry_id, match_type = chosen.entry_id, chosen.match_type
    if not move(Entry, entry_id, vocab.WAITING, vocab.OFFERED, actor, now):
        raise Conflict(
            "waitlist request changed meanwhile; look again", data={"entry": str(entry_id)}
        )
    clinic, client = parties.clinic, parties.client
    reachable = outbox.channel_for(client) is not None
    terms = offer_time.terms(clinic, opening.starts_at, hold, now, flow, can_message=reachable)
    offer = Offer.create_by(
        actor,
        now,
        opening=opening,
        entry=entry_id,
        status=vocab.OFFER_SENT,
        match_type=match_type,
        sent_at=now,
        expires_at=terms.deadline,
    )
    audit.record(
        actor,
        "offer.send",
        "offer",
        offer.id,
        {
            "opening": [None, str(opening.id)],
            "entry": [None, str(entry_id)],
            "match_type": [None, match_type],
            "hold_minutes": [None, hold],
            "expires_at": [None, audit.plain(terms.deadline)],
        },
    )
    if terms.phone_instead:
        audit.record(
            actor,
            "message.not_sent",
            "offer",
            offer.id,
            {"kind": [None, "offer"], "reason": [None, terms.phone_instead]},
        )
    else:
        outbox.tell_offer(offer, "offer", parties, actor, now)
    return offer


def _under_cap(
    chosen: list[Candidate], n: int, clinic: Clinic, now: dt.datetime
) -> list[Candidate]:
    """The first n candidates whose client stays within the clinic's daily offer limit,
    counting the offers this call makes too, and was not offered inside the clinic's spacing
    (offer_spacing: this call's offers count as just made)."""
    cap = message_settings.of(clinic).max_offers_per_day
    recent = set(offer_spacing.last_offers([c.client_id for c in chosen], clinic, now))
    spaced = offer_spacing.hours(clinic) > 0
    if not cap and not recent and not spaced:
        return chosen[:n]
    counts = offers_today([c.client_id for c in chosen], clinic, now) if cap else {}
    kept: list[Candidate] = []
    for c in chosen:
        if len(kept) >= n:
            break
        if c.client_id in recent or (cap and counts.get(c.client_id, 0) >= cap):
            continue
        kept.append(c)
        counts[c.client_id] = counts.get(c.client_id, 0) + 1
        if spaced:
            recent.add(c.client_id)
    return kept


def _best_under_cap(
    opening: Opening, n: int, clinic: Clinic, now: dt.datetime, slot: SlotShape
) -> list[Candidate]:
    """The top n candidates, passing over clients at their daily offer limit. The candidates
    are claimed (matching.candidates(claim=True)): on PostgreSQL another desk offering at the
    same moment gets the next free ones instead of the same ones, which it could not move.
    Nobody reads their totals here: they are not counted."""
    limit = n
    while True:
        found = candidates(opening, limit=limit, claim=True, count=False, slot=slot).items
        kept = _under_cap(found, n, clinic, now)
        if len(kept) >= n or len(found) < limit or limit >= 500:
            return kept
        limit = min(500, limit * 4 + 20)


_LIVE = Prepared(
    lambda: (
        Offer.select(SQL("1"))
        .where(Offer.opening == param("opening"), Offer.status == vocab.OFFER_SENT)
        .limit(1)
    )
)


def has_live_offer(opening_id: IdRef) -> bool:
    """The opening has an offer out (SEQUENTIAL sends the next one only when none is): asked
    on every offer and ending, so its SQL is built once (store/prepared.py)."""
    return _LIVE.scalar(opening=opening_id) is not None


_PARTIES = PreparedFamily(
    lambda n: (
        Entry.select(Entry, Client, Service)
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(Entry.id.in_(param("ids", size=n)))
    )
)


def _parties(
    opening: Opening, clinic: Clinic, entry_ids: list[Any]
) -> dict[Any, outbox.SlotParties]:
    """The rows each offer's message names, read once for the batch (two queries, whatever
    the number of offers): the opening's provider, and each entry with its client and service."""
    if not entry_ids:
        return {}
    provider = Provider.get_by_id(opening.provider_id)
    rows = _PARTIES(len(entry_ids)).rows(ids=entry_ids)
    return {
        e.id: outbox.SlotParties(clinic, e.client, e.service, provider, opening.starts_at)
        for e in rows
    }


def offer(
    opening_id: IdRef,
    actor: str,
    workflow: str | None = None,
    top: int | None = None,
    entry_id: IdRef | None = None,
    hold_minutes: int | None = None,
) -> list[OfferView]:
    """Offer an opening: to one entry from the candidate list, to the best candidate
    (SEQUENTIAL), or to the top N at once (BROADCAST). Returns the offers sent (none when
    nobody can take it)."""
    now = clock.now()
    try:
        with database.atomic():
            opening = get_opening(opening_id, lock=True)
            if opening.status != vocab.OPENING_OPEN:
                raise Conflict(
                    FILLED
                    if opening.status == vocab.OPENING_FILLED
                    else f"opening is {opening.status}"
                )
            # read by key through its prepared SQL, and kept on the opening: the ranking and
            # the fairness record read it from there (a lazy load builds its SQL each time)
            clinic = opening.clinic = Clinic.get_by_id(opening.clinic_id)
            offer_time.check_in_time(clinic, opening.starts_at, now)
            chosen_by = lead_time.choose(
                clinic, opening.starts_at, now, workflow or opening.workflow, hold_minutes, top
            )
            flow = chosen_by.workflow
            if flow not in vocab.WORKFLOWS:
                raise ValidationError("workflow must be SEQUENTIAL or BROADCAST", field="workflow")
            hold = chosen_by.hold_minutes
            slot = SlotShape.of(opening)  # derived once: the ranking and its record share it
            if not 5 <= hold <= 10080:
                raise ValidationError("hold_minutes must be 5-10080", field="hold_minutes")
            if entry_id is not None:
                try:
                    entry = ids.resolve(Entry, entry_id, "waitlist request", field="entry")
                except NotFound:
                    raise NotFound("waitlist request not found", field="entry") from None
                if entry.status != vocab.WAITING:
                    raise Conflict(
                        f"waitlist request is {entry.status}", data={"status": entry.status}
                    )
                chosen = candidates(opening, limit=1, only_entry=entry.id).items
                if not chosen:
                    raise ValidationError(
                        "this entry cannot take this opening (service, provider, date range, "
                        "or it was offered this opening before)",
                        field="entry",
                    )
                last = offer_spacing.last_offers([chosen[0].client_id], clinic, now)
                if last:
                    raise Conflict(
                        offer_spacing.too_soon_message(last[chosen[0].client_id], now, clinic),
                        field="entry",
                        data={offer_spacing.SETTING: offer_spacing.hours(clinic)},
                    )
                if not _under_cap(chosen, 1, clinic, now):
                    cap = message_settings.of(clinic).max_offers_per_day
                    raise Conflict(
                        f"this client has had {cap} offers today, the clinic's daily limit",
                        field="entry",
                        data={"max_offers_per_day": cap},
                    )
            elif flow == vocab.SEQUENTIAL:
                if has_live_offer(opening.id):
                    raise Conflict(
                        "opening already has a live offer; sequential offers go one at a time"
                    )
                chosen = _best_under_cap(opening, 1, clinic, now, slot)
            else:
                n = chosen_by.top
                if not 1 <= n <= 50:
                    raise ValidationError("broadcast to 1-50 entries", field="top")
                chosen = _best_under_cap(opening, n, clinic, now, slot)
            parties = _parties(opening, clinic, [c.entry_id for c in chosen])
            sent = [_send(opening, parties[c.entry_id], c, hold, flow, actor, now) for c in chosen]
            if sent:
                by_entry = entry_id is not None
                fairness.record_offer(opening, sent, chosen_by, by_entry, actor, now, slot)
            if sent and opening.workflow != flow:
                Opening.update_by(actor, now, workflow=flow, version=Opening.version + 1).where(
                    Opening.id == opening.id
                ).execute()
    except IntegrityError:
        raise Conflict("an entry already holds a live offer; look again") from None
    if not sent:
        return []
    views = {v.id: v for v in views_of([o.id for o in sent])}
    return [views[o.id] for o in sent]  # in candidate order, best first
