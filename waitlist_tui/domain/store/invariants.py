"""The domain's invariants, read from the bound database: what must hold in any database the
app wrote, whatever happened to the process that wrote it. A restore checks them on its copy
before the copy replaces anything; the tests check them after races and kills.

- no opening filled twice: at most one accepted offer per opening;
- every booked entry has its appointment;
- no entry holds two live (sent) offers;
- the stats rollups equal a rebuild from the rows (the rebuild is rolled back).
"""

from __future__ import annotations

from typing import Any

from peewee import fn

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store import rollup_rebuild
from waitlist_tui.domain.store.db import database, tuple_rows
from waitlist_tui.domain.store.models import Appointment, Entry, Offer

_SHOWN = 5  # ids named per broken rule


def problems(*, stats: bool = True) -> list[dict[str, Any]]:
    """The rules broken in the bound database: {"rule", "count", "ids"} each; [] when all hold.
    `stats`: also compare the rollups with a rebuild (reads every rollup row)."""
    found: list[dict[str, Any]] = []

    def add(rule: str, ids: list[Any]) -> None:
        if ids:
            found.append({"rule": rule, "count": len(ids), "ids": [str(i) for i in ids[:_SHOWN]]})

    twice = (
        Offer.select(Offer.opening)
        .where(Offer.status == vocab.OFFER_ACCEPTED)
        .group_by(Offer.opening)
        .having(fn.COUNT(Offer.id) > 1)
    )
    add("opening filled twice", [row[0] for row in tuple_rows(twice)])
    has_appointment = Appointment.select(Appointment.id).where(Appointment.entry == Entry.id)
    unbooked = Entry.select(Entry.id).where(
        Entry.status == vocab.BOOKED, ~fn.EXISTS(has_appointment)
    )
    add("booked entry without its appointment", [row[0] for row in tuple_rows(unbooked)])
    two_live = (
        Offer.select(Offer.entry)
        .where(Offer.status == vocab.OFFER_SENT)
        .group_by(Offer.entry)
        .having(fn.COUNT(Offer.id) > 1)
    )
    add("entry with two live offers", [row[0] for row in tuple_rows(two_live)])
    if stats and not rollups_match():
        found.append({"rule": "stats rollups differ from a rebuild", "count": 1, "ids": []})
    return found


def rollups_match() -> bool:
    """The rollups as they are equal a rebuild from the rows (rebuilt in a transaction that
    is rolled back: nothing changes)."""
    with database.atomic() as transaction:
        before = rollup_rebuild.state()
        rollup_rebuild.rebuild(analyze=False)
        after = rollup_rebuild.state()
        transaction.rollback()
    return before == after
