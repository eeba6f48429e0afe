"""The domain's invariants, read from the bound database: what must hold in any database the
app wrote, whatever happened to the process that wrote it. A restore checks them on its copy
before the copy replaces anything; the tests check them after races and kills.

- no opening filled twice: at most one accepted offer per opening;
- every booked entry has its appointment;
- no entry holds two live (sent) offers, and an entry is offered exactly when it holds one;
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
    live = Offer.select(Offer.id).where(Offer.entry == Entry.id, Offer.status == vocab.OFFER_SENT)
    offered_alone = Entry.select(Entry.id).where(Entry.status == vocab.OFFERED, ~fn.EXISTS(live))
    add("offered entry without a live offer", [row[0] for row in tuple_rows(offered_alone)])
    stray = Entry.select(Entry.id).where(Entry.status != vocab.OFFERED, fn.EXISTS(live))
    add("live offer on an entry that is not offered", [row[0] for row in tuple_rows(stray)])
    if stats and not rollups_match():
        found.append({"rule": "stats rollups differ from a rebuild", "count": 1, "ids": []})
    return found


_GROUPED = (
    f"SELECT {rollup_rebuild.KEY}, "
    "SUM(n) AS n, SUM(n1) AS n1, SUM(s1) AS s1, SUM(n2) AS n2, SUM(s2) AS s2 FROM stats_count "
    f"GROUP BY {rollup_rebuild.KEY} "
    "HAVING SUM(n) <> 0 OR SUM(n1) <> 0 OR SUM(s1) <> 0 OR SUM(n2) <> 0 OR SUM(s2) <> 0"
)


def rollups_match() -> bool:
    """The rollups as they are equal a rebuild from the rows: the sums per key (appended
    PostgreSQL rows folded in, rows of zeros left out, as rollup_rebuild.state compares
    them) and the points, compared in SQL (at 100k entries, 17 s in Python; about 6 s
    here, most of it the rebuild). Rebuilt in a transaction that is rolled back."""
    with database.atomic() as transaction:
        database.execute_sql(f"CREATE TEMP TABLE rollup_counts_before AS {_GROUPED}")
        database.execute_sql("CREATE TEMP TABLE rollup_points_before AS SELECT * FROM stats_point")
        rollup_rebuild.rebuild(analyze=False)
        differ = any(
            database.execute_sql(f"SELECT 1 FROM ({sql}) d LIMIT 1").fetchone()
            for sql in (
                f"{_GROUPED} EXCEPT SELECT * FROM rollup_counts_before",
                f"SELECT * FROM rollup_counts_before EXCEPT {_GROUPED}",
                "SELECT * FROM stats_point EXCEPT SELECT * FROM rollup_points_before",
                "SELECT * FROM rollup_points_before EXCEPT SELECT * FROM stats_point",
            )
        )
        transaction.rollback()
    return not differ
