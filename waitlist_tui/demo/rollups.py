"""The demo's stats rollups on SQLite, worked out from the rows it has just generated: every
stats_count row and every stats_point row, as rollup_rebuild would make them from the tables.
Joining and grouping a million rows back out of the tables costs the loading process as much
CPU; this runs in the generating process (demo_stream) while SQLite builds the indexes, and
side_tables hands the results over ready to copy.

The points come from demo_points (the same values as rollup_sql's, to the bit); the counts
are those of rollup_sql's entry, opening and offer selects and its point groups, keyed by the
same buckets of the same stored times. A test builds a demo and holds its rollups to a
rebuild from the tables. Counting runs in C (Counter over zipped columns) where it can.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import add, itemgetter
from typing import Any

from waitlist_tui.demo.points import Table, columns, fill_points, pair_points
from waitlist_tui.domain import vocab
from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.rollups import NONE, day_id

Key = tuple[Any, ...]  # COUNT_COLUMNS but seq and the measures: clinic, fact, lvl, t, service, ...
_HOUR, _MINUTE = itemgetter(slice(0, 13)), itemgetter(slice(14, 16))  # of a stored time
_QUARTER = {f"{m:02d}": m // 15 for m in range(60)}
_T = itemgetter(4)  # of a row
POINT_NAMES = tuple(q.POINT_COLUMNS.split(", "))


class _HourFines(dict[str, int]):
    """rollups.fine_id of a stored time's hour ("YYYY-MM-DD HH"), worked out once; as
    rollup_sql's fine() reads it (the date and the digits), its minutes add a quarter."""

    def __missing__(self, hour: str) -> int:
        day = dt.date.fromisoformat(hour[:10])
        found = self[hour] = day_id(day) * 96 + int(hour[11:13]) * 4
        return found


_HOURS = _HourFines()


def _fines(times: Sequence[str]) -> list[int]:
    hours = map(_HOURS.__getitem__, map(_HOUR, times))
    return list(map(add, hours, map(_QUARTER.__getitem__, map(_MINUTE, times))))


class _Tally:
    """Counts (n) per 15-minute key, by fact, and the measures n1, s1, n2, s2 where a fact has
    them; the day rows are summed from them at the end, as rollup_rebuild sums its own. Plain
    Counters over zipped columns, so that most of the work runs in C."""

    def __init__(self) -> None:
        self.n: dict[tuple[int, int], Counter[Key]] = {}  # (lvl, fact) -> n by key
        self.measures: dict[tuple[int, int], tuple[Counter[Key], ...]] = {}  # n1, s1, n2, s2

    def count(self, lvl: int, fact: int, keys: Iterable[Key]) -> None:
        self.n.setdefault((lvl, fact), Counter()).update(keys)

    def add(self, fact: int, times: Sequence[str], *cols: Any) -> list[Key]:
        """Count rows by their 15-minute bucket: `cols` are clinic, service, provider, status
        (one value each, or a list per row). Returns the rows' keys, row by row."""
        fines = _fines(times)
        count = len(fines)
        clinic, service, provider, status = (
            c if isinstance(c, list) else repeat(c, count) for c in cols
        )
        at = (repeat(fact, count), repeat(0, count), fines)
        keys = list(zip(clinic, *at, service, provider, status, strict=True))
        self.count(0, fact, keys)
        return keys

    def measure(
        self,
        fact: int,
        keys: list[Key],
        n1: Sequence[bool],
        s1: Sequence[int] = (),
        n2: Sequence[bool] = (),
        s2: Sequence[int] = (),
    ) -> None:
        """Add measures to the keys `add` returned: counts of the rows marked in n1 and n2,
        sums of s1 and s2 (row by row; empty: none)."""
        held = self.measures.setdefault((0, fact), (Counter(), Counter(), Counter(), Counter()))
        for counter, marks in ((held[0], n1), (held[2], n2)):
            if marks:
                counter.update(compress(keys, marks))
        for counter, values in ((held[1], s1), (held[3], s2)):
            for key, value in zip(keys, values, strict=False):
                counter[key] += value

    def sum_days(self) -> None:
        """The day rows (lvl 1) of every 15-minute fact: their sums by day."""
        for (lvl, fact), counter in list(self.n.items()):
            if lvl == 0:
                self.n[1, fact] = _by_day(counter)
                held = self.measures.get((0, fact))
                if held is not None:
                    self.measures[1, fact] = tuple(_by_day(c) for c in held)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """stats_count rows in COUNT_COLUMNS order, in key order up to the time bucket (enough
        for SQLite to append them; the table keeps its own order). A group at a time: all of
        them at once were a third of the demo's memory at a million entries."""
        for group in sorted(self.n):
            counter = self.n[group]
            held = self.measures.get(group)
            if held is None:
                rows = [(0, *key, n, 0, 0, 0, 0) for key, n in counter.items()]
            else:
                n1, s1, n2, s2 = held
                rows = [
                    (0, *key, n, n1[key], s1[key], n2[key], s2[key]) for key, n in counter.items()
                ]
            rows.sort(key=_T)
            yield from rows


def _by_day(counter: Counter[Key]) -> Counter[Key]:
    """A Counter of 15-minute keys summed into day keys (lvl 1, t // 96)."""
    days: Counter[Key] = Counter()
    for (clinic, fact, _, t, service, provider, status), n in counter.items():
        days[clinic, fact, 1, t // 96, service, provider, status] += n
    return days


class Rollups:
    """The rollups of rows handed over a batch at a time (the demo's chunks): counts add up
    here, points come back batch by batch for the caller to store. Every join the rollups
    make (an offer to its opening, an appointment to its entry) stays inside a batch, as
    the demo makes each entry's opening, offers and appointment with it; so batches give the
    very rows, in the very order, that the whole tables give at once."""

    def __init__(self, service_clinic: dict[str, str]) -> None:
        self._service_clinic = service_clinic  # each service's clinic (booked entries)
        self._tally = _Tally()

    def add(
        self, entries: Table, appointments: Table, openings: Table, offers: Table
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Count a batch; returns its pair points and its fill points (POINT_COLUMNS order).
        The stored order is every pair, then every fill."""
        none, tally = NONE.hex, self._tally
        clinic, service, status, created = columns(
            entries, "clinic_id", "service_id", "status", "created_at"
        )
        tally.add(q.ENTRY, created, clinic, service, none, status)

        names = (
            "id",
            "clinic_id",
            "service_id",
            "provider_id",
            "status",
            "created_at",
            "filled_at",
        )
        ids, clinic, service, provider, status, created, filled = columns(openings, *names)
        service = [found or none for found in service]
        keys = tally.add(q.OPENING, created, clinic, service, provider, status)
        fills = [
            moment is not None and state == vocab.OPENING_FILLED
            for moment, state in zip(filled, status, strict=True)
        ]
        tally.measure(q.OPENING, keys, fills)
        # The rollups, like the raw query, count an offer through its opening.
        where = dict(zip(ids, range(len(ids)), strict=True))
        opening_of, sent, offer_status = columns(offers, "opening_id", "sent_at", "status")
        through = list(map(where.get, opening_of))
        if None in through:  # offers of openings that are gone are not counted
            sent, offer_status, through = _present(through, sent, offer_status, through)
        tally.add(
            q.OFFER,
            sent,
            *(list(map(col.__getitem__, through)) for col in (clinic, service, provider)),
            offer_status,
        )

        pairs = pair_points(entries, appointments, self._service_clinic)
        fills_ = fill_points(openings)
        _count_points(tally, pairs, fills_)
        return pairs, fills_

    def count_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stats_count row (COUNT_COLUMNS order), once every batch is in."""
        self._tally.sum_days()
        return self._tally.rows()


def _present(marks: list[Any], *cols: list[Any]) -> list[list[Any]]:
    """`cols` without the rows whose mark is None."""
    kept = [mark is not None for mark in marks]
    return [list(compress(col, kept)) for col in cols]


def _count_points(
    tally: _Tally, pairs: list[tuple[Any, ...]], fills: list[tuple[Any, ...]]
) -> None:
    """What rollup_sql's point_groups count: pairs by creation (BOOKED, with the waits and
    days sooner known and their sums), pairs by booking and fills by filling, and both
    kinds' median values per bin."""
    for points, done_fact, bin_fact in (
        (pairs, q.BOOKED_AT, q.SOONER_BIN),
        (fills, q.FILLED_AT, q.FILL_BIN),
    ):
        names = ("clinic_id", "service_id", "provider_id", "created_at", "done_at", "bin")
        clinic, service, provider, created, done, bins = columns((points, POINT_NAMES), *names)
        if points is pairs:
            wait, sooner = columns((points, POINT_NAMES), "wait", "sooner")
            keys = tally.add(q.BOOKED, created, clinic, service, provider, "")
            tally.measure(
                q.BOOKED,
                keys,
                [w is not None for w in wait],
                [w or 0 for w in wait],
                [s is not None for s in sooner],
                [s or 0 for s in sooner],
            )
        ended = [done, clinic, service, provider]
        if None in done:
            ended = _present(done, *ended)
        tally.add(done_fact, *ended, "")
        tally.count(
            2,
            bin_fact,
            (
                (clinic[i], bin_fact, 2, found, service[i], provider[i], "")
                for i, found in enumerate(bins)
                if found is not None
            ),
        )
