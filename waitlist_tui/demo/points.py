"""The demo's stats points (stats_point rows) worked out in Python, in the generating process,
exactly as rollup_sql's pair_points and fill_points write them on SQLite: same rows, same
order, the same doubles to the bit. Together with demo_rollups this leaves SQLite nothing to
group or join after a demo load (side_tables copies the results in).

SQLite's julianday() of a stored time is iJD / 86400000.0, iJD being whole milliseconds: the
date and the minute's part (integers, worked out here) plus the seconds' part, which SQLite
itself rounds (once per distinct seconds text: the demo's times share a few). From iJD on,
every step is the IEEE double operation the SQL performs (v, and its bin); ticks are whole
milliseconds apart, so round() of their double difference is the integer difference.
A test holds a demo's points and counts to a rebuild from the tables.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from itertools import compress, repeat
from operator import add, eq, itemgetter
from typing import Any, cast

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store import rollup_sql as q
from waitlist_tui.domain.store.rollups import NONE

Table = tuple[Sequence[tuple[Any, ...]], Sequence[str]]  # rows, column names
MS_PER_DAY = 86_400_000
# iJD of 0001-01-01 00:00 less date.toordinal()'s 1 for it: julian day 1721424.5, in ms.
_ORDINAL_MS = 148_731_076_800_000


def columns(table: Table, *names: str) -> list[list[Any]]:
    """The named columns of a table's rows, as lists."""
    rows, cols = table
    return [list(map(itemgetter(cols.index(name)), rows)) for name in names]


def rows_where(table: Table, column: str, value: object) -> Table:
    """The rows whose `column` holds `value` (picked out in C), with the table's columns."""
    rows, cols = table
    found = compress(rows, map(eq, map(itemgetter(cols.index(column)), rows), repeat(value)))
    return list(found), cols


class _HourMs(dict[str, int]):
    """iJD of "YYYY-MM-DD HH" (a stored time's first 13 characters), worked out once."""

    def __missing__(self, hour: str) -> int:
        day = dt.date.fromisoformat(hour[:10]).toordinal()
        found = self[hour] = day * MS_PER_DAY + _ORDINAL_MS + int(hour[11:13]) * 3_600_000
        return found


class _SecondMs(dict[str, int]):
    """The milliseconds SQLite makes of a time's seconds text ("SS.ffffff"), asked of SQLite
    itself: it rounds the parsed double (s * 1000 + 0.5, truncated), which only it can say
    to the last bit."""

    def __missing__(self, seconds: str) -> int:
        with sqlite3.connect(":memory:") as con:
            found: int = con.execute(
                "SELECT CAST(round((julianday(?) - julianday('2000-01-01 00:00')) * 86400000) "
                "AS INTEGER)",
                (f"2000-01-01 00:00:{seconds}",),
            ).fetchone()[0]
        self[seconds] = found
        return found


_HOURS, _SECONDS = _HourMs(), _SecondMs()
_MINUTES = {f"{m:02d}": m * 60_000 for m in range(60)}


def jd_ms(moment: str) -> int:
    """SQLite's iJD of a stored time (naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff")."""
    return _HOURS[moment[:13]] + _MINUTES[moment[14:16]] + _SECONDS[moment[17:]]


_HOUR, _MINUTE, _SECOND = (itemgetter(slice(*at)) for at in ((0, 13), (14, 16), (17, None)))


def jd_column(times: Sequence[str | None]) -> list[int | None]:
    """jd_ms of every time (None stays None); mapped in C when no time is missing."""
    if None in times:
        return [None if moment is None else jd_ms(moment) for moment in times]
    present = cast("Sequence[str]", times)  # no None: checked above
    hours = map(_HOURS.__getitem__, map(_HOUR, present))
    minutes = map(_MINUTES.__getitem__, map(_MINUTE, present))
    seconds = map(_SECONDS.__getitem__, map(_SECOND, present))
    return list(map(add, map(add, hours, minutes), seconds))


def _days(later: int, earlier: int) -> float:
    """rollup_sql's days() on SQLite (julianday(later) - julianday(earlier)), given iJDs."""
    return later / 86400000.0 - earlier / 86400000.0


def _ladder() -> list[tuple[float, int, int, float]]:
    """rollup_sql's bin steps as bin_of reads them: (upper bound, first bin, start, width)."""
    return [
        (float("inf") if nxt is None else nxt, first, start, float(width))
        for start, width, nxt, first in q.bin_steps()
    ]


_LADDER = _ladder()


def bin_of(minutes: float | None) -> int | None:
    """rollup_sql's bin() of a value in minutes (the same double operations)."""
    if minutes is None:
        return None
    a = abs(minutes)
    for upper, first, start, width in _LADDER:
        if a < upper:
            found = first + int((a - start) / width)
            return -1 - found if minutes < 0 else found
    raise ValueError(f"no bin for {minutes!r}")  # NaN: SQLite stores NULL, never made here


def pair_points(
    entries: Table, appointments: Table, service_clinic: dict[str, str]
) -> list[tuple[Any, ...]]:
    """Booked entries with each of their appointments (or none), in the order the SQL inserts
    them: entries as stored, each one's appointments as stored. POINT_COLUMNS order."""
    none = NONE.hex
    booked = rows_where(entries, "status", vocab.BOOKED)
    appts, entry_of, provider_of, starts = columns(
        appointments, "id", "entry_id", "provider_id", "starts_at"
    )
    made: dict[str, list[tuple[str, str, int | None]]] = {}
    for appt, entry, provider, start in zip(
        appts, entry_of, provider_of, jd_column(starts), strict=True
    ):
        if entry is not None:
            made.setdefault(entry, []).append((appt, provider, start))
    lone = [(none, none, None)]
    ids, services, created, done, original = columns(
        booked, "id", "service_id", "created_at", "booked_at", "original_appointment_at"
    )
    points = []
    for entry, service, made_at, done_at, created_at, booked_at, was in zip(
        ids,
        services,
        created,
        done,
        jd_column(created),
        jd_column(done),
        jd_column(original),
        strict=True,
    ):
        clinic = service_clinic.get(service)
        if clinic is None:  # the SQL joins the service
            continue
        wait = None if booked_at is None else booked_at - created_at
        for appt, provider, start in made.get(entry, lone):
            sooner = v = found = None
            if was is not None and start is not None:
                sooner, v = was - start, _days(was, start)
                found = bin_of(v * 1440)
            points.append(
                (
                    q.PAIR,
                    entry,
                    appt,
                    clinic,
                    service,
                    provider,
                    made_at,
                    done_at,
                    wait,
                    sooner,
                    v,
                    found,
                )
            )
    return points


def fill_points(openings: Table) -> list[tuple[Any, ...]]:
    """Filled openings with their minutes from creation to filling, as stored."""
    none = NONE.hex
    filled = rows_where(openings, "status", vocab.OPENING_FILLED)
    names = ("id", "clinic_id", "service_id", "provider_id", "created_at", "filled_at")
    ids, clinics, services, providers, created, done = columns(filled, *names)
    points = []
    for ref, clinic, service, provider, made_at, done_at, created_at, filled_at in zip(
        ids,
        clinics,
        services,
        providers,
        created,
        done,
        jd_column(created),
        jd_column(done),
        strict=True,
    ):
        if filled_at is None:
            continue
        v = _days(filled_at, created_at) * 1440
        points.append(
            (
                q.FILL,
                ref,
                none,
                clinic,
                service or none,
                provider,
                made_at,
                done_at,
                None,
                None,
                v,
                bin_of(v),
            )
        )
    return points
