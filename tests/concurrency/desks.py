"""Several desks on one database: the shared pieces of the desks test (threads, frozen clock)
and the load bench (processes, real clock), both of which open slots and broadcast them.

`broadcast_rounds` is one desk's run: each round opens a slot of its own and broadcasts it to
the top N through the one `offer_slot` (the opening is created in the offer's transaction), and
tallies what came back. `invariants` reads the database at the end: no entry holds two live
offers or sits "offered" without one, no opening is filled twice or booked twice, no provider
is double-booked, every opening a desk opened has its offers (or was deliberately left open),
and the audit trail counts what the rows say.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from peewee import fn

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import Conflict, DomainError
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.meta_tables import AuditEvent
from waitlist_tui.domain.store.models import Appointment, Entry, Offer, Opening

# What a refused broadcast said: another desk moved a candidate first (the 4090).
REFUSED = ("changed meanwhile", "already holds a live offer")


def outcome(err: DomainError) -> str:
    """A tally key for a refusal: 'refused' (a race lost), 'nobody' or the error's code."""
    if isinstance(err, Conflict) and any(word in err.message for word in REFUSED):
        return "refused"
    if isinstance(err, Conflict) and "nobody" in err.message:
        return "nobody"
    return f"error {err.code}: {err.message}"


def desk_slots(
    provider_id: Any, service_id: Any, first: dt.datetime, desk: int, rounds: int, minutes: int
) -> list[Slot]:
    """`rounds` slots of their own for desk number `desk`: back-to-back `minutes` blocks from
    `first`, desk after desk, so no two desks open overlapping times."""
    step = dt.timedelta(minutes=minutes)
    start = first + step * desk * rounds
    return [
        Slot(provider_id, start + step * i, start + step * (i + 1), service_id)
        for i in range(rounds)
    ]


def broadcast_rounds(slots: Iterable[Slot], top: int, actor: str) -> Counter[str]:
    """Open and broadcast each slot in turn (one transaction each); a Counter of 'sent'
    (broadcasts), 'offers', 'refused', 'nobody' and any other error by its text."""
    tally: Counter[str] = Counter()
    for slot in slots:
        try:
            sent = offer_slot(slot, actor, workflow=vocab.BROADCAST, top=top)
        except DomainError as err:
            tally[outcome(err)] += 1
            continue
        tally["sent"] += 1
        tally["offers"] += len(sent)
        if len(sent) < top:
            tally["short"] += 1  # fewer candidates left than asked for
    return tally


def invariants(actors: Iterable[str] = (), left_open: Iterable[str] = ()) -> list[str]:
    """What must hold whatever the desks did, as a list of broken rules (empty: all hold).
    `actors`: the desks whose openings must each have at least one offer, but for the ids in
    `left_open` (openings a desk opened on purpose and has not offered, or whose offer failed
    after it had opened them: the desk's to offer again)."""
    problems: list[str] = []
    with database.connection_context():
        live = (
            Offer.select(Offer.entry, fn.COUNT(Offer.id))
            .where(Offer.status == vocab.OFFER_SENT)
            .group_by(Offer.entry)
            .tuples()
        )
        live_by_entry = dict(live)
        twice = [e for e, n in live_by_entry.items() if n > 1]
        if twice:
            problems.append(f"{len(twice)} entries hold two live offers")
        offered = {
            e for (e,) in Entry.select(Entry.id).where(Entry.status == vocab.OFFERED).tuples()
        }
        if offered - set(live_by_entry):
            problems.append(
                f"{len(offered - set(live_by_entry))} offered entries without a live offer"
            )
        if set(live_by_entry) - offered:
            problems.append(
                f"{len(set(live_by_entry) - offered)} live offers to entries not 'offered'"
            )
        accepted = (
            Offer.select(Offer.opening, fn.COUNT(Offer.id))
            .where(Offer.status == vocab.OFFER_ACCEPTED)
            .group_by(Offer.opening)
            .having(fn.COUNT(Offer.id) > 1)
            .count()
        )
        if accepted:
            problems.append(f"{accepted} openings accepted twice")
        filled = {
            o
            for (o,) in Opening.select(Opening.id)
            .where(Opening.status == vocab.OPENING_FILLED)
            .tuples()
        }
        won = {
            o
            for (o,) in Offer.select(Offer.opening)
            .where(Offer.status == vocab.OFFER_ACCEPTED)
            .tuples()
        }
        if filled != won:
            problems.append(
                f"{len(filled ^ won)} openings whose 'filled' and accepted offer disagree"
            )
        booked = list(
            Appointment.select(Appointment.provider, Appointment.starts_at, Appointment.ends_at)
            .where(Appointment.status == vocab.APPT_BOOKED)
            .order_by(Appointment.provider, Appointment.starts_at)
            .tuples()
        )
        clashes = sum(1 for a, b in pairwise(booked) if a[0] == b[0] and b[1] < a[2])
        if clashes:
            problems.append(f"{clashes} double-booked provider times")
        booked_entries = Entry.select().where(Entry.status == vocab.BOOKED).count()
        if booked_entries != len(won):
            problems.append(f"{booked_entries} booked entries for {len(won)} accepted offers")
        desks = list(actors)
        if desks:
            kept = set(left_open)
            bare = sum(
                1
                for (o,) in Opening.select(Opening.id)
                .where(
                    Opening.created_by.in_(desks),
                    Opening.status == vocab.OPENING_OPEN,
                    ~fn.EXISTS(Offer.select().where(Offer.opening == Opening.id)),
                )
                .tuples()
                if str(o) not in kept
            )
            if bare:
                problems.append(f"{bare} openings a desk opened are open with no offer")
        if desks:
            sends = (
                AuditEvent.select()
                .where(AuditEvent.action == "offer.send", AuditEvent.actor.in_(desks))
                .count()
            )
            made = Offer.select().where(Offer.created_by.in_(desks)).count()
            if sends != made:
                problems.append(f"{sends} offer.send audit rows for the desks' {made} offers")
    return problems
