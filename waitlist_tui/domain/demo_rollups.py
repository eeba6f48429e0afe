"""The demo's plain counts for the stats rollups on SQLite, tallied from the rows it has just
generated: grouping a million rows back out of the tables costs as much CPU, and this tally
runs in the generating process (demo_stream) while SQLite builds the indexes.

Only whole-number counts by bucket are tallied here (rollup_rebuild.TALLIED: the keys that
rollup_sql's entry, opening and offer selects and its point groups give, from the same stored
times); every value a database computes (waits, days sooner, median values) is left to the
SQL rebuild. A test builds a demo and holds its rollups to a rebuild from the tables.
Counting runs in C (Counter over zipped columns); Python only lays out the columns.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from waitlist_tui.domain import rollup_sql as q
from waitlist_tui.domain import vocab
from waitlist_tui.domain.rollups import NONE, day_id

Table = tuple[Sequence[tuple], Sequence[str]]  # rows, column names
_EPOCH = dt.datetime(2000, 1, 1)
_QUARTER = dt.timedelta(minutes=15)


def _fines(times: Sequence[str]) -> list[int]:
    """rollups.fine_id of each time (naive UTC, as stored), by whole quarter hours since a day
    that starts a bucket: the same number, with no calendar arithmetic per time."""
    first, parse = day_id(_EPOCH) * 96, dt.datetime.fromisoformat
    return [first + (parse(moment) - _EPOCH) // _QUARTER for moment in times]


def _columns(table: Table, *names: str) -> list[list]:
    rows, columns = table
    return [list(map(itemgetter(columns.index(name)), rows)) for name in names]


class _Tally:
    """Counts per key (clinic, fact, t, service, provider, status) at both levels."""

    def __init__(self) -> None:
        self.n: tuple[Counter, Counter] = (Counter(), Counter())
        self.fills: tuple[Counter, Counter] = (Counter(), Counter())

    def add(
        self,
        fact: int,
        times: Sequence[str],
        *columns: Any,
        fills: Sequence[bool] | None = None,
    ) -> None:
        """Count rows: `columns` are clinic, service, provider, status (one value each, or a
        sequence per row); `fills`, if given, marks the rows counted again in n1."""
        fines = _fines(times)
        count = len(fines)
        clinic, service, provider, status = (
            c if isinstance(c, list) else [c] * count for c in columns
        )
        for lvl, t in ((0, fines), (1, [fine // 96 for fine in fines])):
            keys = list(zip(clinic, [fact] * count, t, service, provider, status, strict=True))
            self.n[lvl].update(keys)
            if fills is not None:
                self.fills[lvl].update(key for key, fill in zip(keys, fills, strict=True) if fill)

    def rows(self) -> list[tuple]:
        found = [
            (0, key[0], key[1], lvl, *key[2:], count, self.fills[lvl][key], 0, 0, 0)
            for lvl in (0, 1)
            for key, count in self.n[lvl].items()
        ]
        found.sort(key=itemgetter(3, 2, 4, 1, 5, 6, 7))  # the table's key: lvl, fact, t, ids
        return found


def count_rows(
    entries: Table,
    appointments: Table,
    openings: Table,
    offers: Table,
    service_clinic: dict[str, str],
) -> list[tuple]:
    """stats_count rows (rollup_sql.COUNT_COLUMNS order, both time levels, in key order) for
    rollup_rebuild.TALLIED facts of the given tables; ids in the stored hex form;
    `service_clinic`: each service's clinic (booked entries count through their service)."""
    none, tally = NONE.hex, _Tally()
    ids, clinic, service, status, created, booked = _columns(
        entries, "id", "clinic_id", "service_id", "status", "created_at", "booked_at"
    )
    tally.add(q.ENTRY, created, clinic, service, none, status)
    # Booked entries with each of their appointments (or none), by booked_at, as the pair
    # points count them: their clinic is their service's (the rebuild joins the service).
    providers: dict[str, list[str]] = {}
    for entry, provider in zip(*_columns(appointments, "entry_id", "provider_id"), strict=True):
        if entry is not None:
            providers.setdefault(entry, []).append(provider)
    pairs = [
        (service_clinic[service[i]], service[i], provider, booked[i])
        for i in range(len(ids))
        if status[i] == vocab.BOOKED and booked[i] is not None and service[i] in service_clinic
        for provider in providers.get(ids[i], [none])
    ]
    clinics, services, providers_, times = [list(c) for c in zip(*pairs, strict=True)] or [[]] * 4
    tally.add(q.BOOKED_AT, times, clinics, services, providers_, "")

    names = ("id", "clinic_id", "service_id", "provider_id", "status", "created_at", "filled_at")
    ids, clinic, service, provider, status, created, filled = _columns(openings, *names)
    service = [found or none for found in service]
    filled_now = [
        moment is not None and state == vocab.OPENING_FILLED
        for moment, state in zip(filled, status, strict=True)
    ]
    tally.add(q.OPENING, created, clinic, service, provider, status, fills=filled_now)
    done = [i for i, fill in enumerate(filled_now) if fill]
    tally.add(
        q.FILLED_AT,
        [filled[i] for i in done],
        [clinic[i] for i in done],
        [service[i] for i in done],
        [provider[i] for i in done],
        "",
    )
    # The rollups, like the raw query, count an offer through its opening.
    where = dict(zip(ids, range(len(ids)), strict=True))
    opening_of, sent, offer_status = _columns(offers, "opening_id", "sent_at", "status")
    sent_ones = [i for i, opening in enumerate(opening_of) if opening in where]
    through = [where[opening_of[i]] for i in sent_ones]
    tally.add(
        q.OFFER,
        [sent[i] for i in sent_ones],
        [clinic[j] for j in through],
        [service[j] for j in through],
        [provider[j] for j in through],
        [offer_status[i] for i in sent_ones],
    )
    return tally.rows()
