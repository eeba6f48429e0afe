"""Where demand goes unmet (issue 22 part 4), read only: for each service x provider (or any
provider) x weekday (or any day) x part of day (or any time), the waiting entries whose
preferences point there, how many of them have no free slot in their date range, their median
wait, and how many entries there ended (expired or cancelled) without ever being offered a
slot; and the few extra hours that would fit the most waiting entries that have no slot.

How it is read at 100,000 waiting entries: the waiting entries are counted per preference
pattern (service, preferred providers, days, parts of day, time window) twice, by date range
clipped to the days the report sees (the slot check) and by UTC day added (the wait histogram,
whose median is taken per cell): grouped so by PostgreSQL, and by SQLite on both at once, then
split. Python walks those groups, not rows, and never the two crossed. Free time is read once
(fill/availability.free_blocks over the days the ranges reach) and turned into, per (service
length, provider, day), the start minutes a slot could take; a pattern's days with a fitting
slot are found once, and a group has a free slot when one of those days lies in its range (a
bisect). The ended entries are counted per preferred provider by a join. What is left is each
entry's preferred providers (a look-up per waiting and per ended entry, SQLite; a join of
entry_provider, PostgreSQL) and the offer check per ended entry: about two thirds of the time
at 100,000 waiting.

An entry points to one cell per preferred provider, day and part of day it names: an entry
that names none of a kind points to the "any" cell of that kind (an entry with no preferred
day is not counted on every weekday). An explicit time window without parts of day is "any"
part. So a cell's counts add up across cells to more than the waiting total when entries name
several days: `waiting_total` counts each entry once.

"Free slot" is what the slots screen offers (fill/availability.find_matching_slots): the
provider's weekly hours less time off, booked appointments and open openings, from the
clinic's minimum notice on, with the entry's day, part-of-day and window preferences.

A suggestion: for a provider, weekday and part of day, the waiting entries with no free slot
whose preferences (service offered by the provider, provider, day, part, window, a date
range that holds that weekday) it would fit, and the fewest whole extra hours a week (within
the part of day) whose appointments over the weeks ahead would take them all, or as many as
the part of day can hold. "2 extra hours of Dr Kim on Tuesday mornings would fit 37 waiting
entries".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
import uuid
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.availability import MAX_DAYS, free_blocks, part_windows
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import (
    DEMAND_INDEX,
    ENDED_INDEX,
    Clinic,
    Entry,
    EntryProvider,
    Offer,
    Provider,
    ProviderService,
    Service,
)

ANY = "any"
PARTS = vocab.TIME_SLOTS[:3]  # MORNING, AFTERNOON, EVENING
ANYTIME_BIT = 1 << vocab.TIME_SLOTS.index("ANYTIME")
ENDED_DAYS = 90  # entries that ended without an offer are counted over this many days
SUGGESTIONS = 3
CSV_COLUMNS = (
    "service",
    "provider",
    "weekday",
    "part_of_day",
    "waiting",
    "no_free_slot",
    "median_wait_days",
    "ended_without_offer",
)
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    service: str
    provider: str
    weekday: str
    part: str
    waiting: int
    no_free_slot: int
    median_wait_days: float
    ended_without_offer: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "provider": self.provider,
            "weekday": self.weekday,
            "part_of_day": self.part,
            "waiting": self.waiting,
            "no_free_slot": self.no_free_slot,
            "median_wait_days": self.median_wait_days,
            "ended_without_offer": self.ended_without_offer,
        }


@dataclass(frozen=True)
class Suggestion:
    provider: str
    provider_name: str
    weekday: str
    part: str
    hours: int
    fits: int

    @property
    def text(self) -> str:
        hours = f"{self.hours} extra hour{'s' if self.hours != 1 else ''}"
        part = {"MORNING": "mornings", "AFTERNOON": "afternoons", "EVENING": "evenings"}
        entries = f"{self.fits} waiting entr{'ies' if self.fits != 1 else 'y'}"
        return (
            f"{hours} of {self.provider_name} on {self.weekday.title()} "
            f"{part[self.part]} would fit {entries}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "provider_name": self.provider_name,
            "weekday": self.weekday,
            "part_of_day": self.part,
            "extra_hours_a_week": self.hours,
            "fits": self.fits,
            "text": self.text,
        }


@dataclass(frozen=True)
class Demand:
    clinic: str
    as_of: dt.date
    horizon_days: int
    waiting_total: int
    no_free_slot_total: int
    ended_days: int
    cells: list[Cell] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clinic": self.clinic,
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "waiting_total": self.waiting_total,
            "no_free_slot_total": self.no_free_slot_total,
            "ended_without_offer_days": self.ended_days,
            "cells": [c.to_dict() for c in self.cells],
            "suggestions": [s.to_dict() for s in self.suggestions],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for c in self.cells:
            row = c.to_dict()
            writer.writerow([row[k] for k in CSV_COLUMNS])
        return out.getvalue()


def _id(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _providers_sql() -> str:
    """An entry's preferred providers as one text ("id,id"; NULL for any provider)."""
    ep = EntryProvider._meta.table_name
    if is_postgres():
        return (
            "(SELECT string_agg(ep.provider_id::text, ',' ORDER BY ep.provider_id) "
            f"FROM {ep} ep WHERE ep.entry_id = e.id)"
        )
    return f"(SELECT group_concat(ep.provider_id) FROM {ep} ep WHERE ep.entry_id = e.id)"


def _mark() -> str:
    return "%s" if is_postgres() else "?"


# The status is written out (not a parameter): SQLite then reads models.DEMAND_INDEX alone.
WAITING_ONLY = f"e.status = '{vocab.WAITING}'"
ENDED_ONLY = f"e.status IN ('{vocab.CANCELLED}', '{vocab.EXPIRED}')"


def _waiting_rows(
    clinic: Clinic, today: dt.date
) -> tuple[list[tuple[Key, Any, Any, int]], list[tuple[Key, Any, int]]]:
    """The waiting entries (models.DEMAND_INDEX) counted per pattern (service, providers
    text, days, slots, window start, end) two ways: (pattern, first, last, count) with the
    date range clipped to the days the report can see (from today to MAX_DAYS ahead; an end
    before today is yesterday), the slot check's groups; and (pattern, UTC day added,
    count), the wait histogram's. Neither crossed with the other: 43,000 + 27,000 groups at
    99,000 waiting, not 93,000 that each needed both."""
    start, low = today, today - dt.timedelta(days=1)
    high = today + dt.timedelta(days=MAX_DAYS - 1)
    mark = _mark()
    waiting = Entry._meta.table_name
    if is_postgres():
        ep = EntryProvider._meta.table_name
        # A hash join of the waiting entries' providers, aggregated once (the correlated
        # look-up ran once per entry: 23,000 index probes).
        source = (
            f"{waiting} e LEFT JOIN (SELECT ep.entry_id, string_agg(ep.provider_id::text, ',' "
            f"ORDER BY ep.provider_id) AS p FROM {ep} ep JOIN {waiting} x ON x.id = ep.entry_id"
            f" AND x.clinic_id = {mark} AND x.status = '{vocab.WAITING}' GROUP BY ep.entry_id)"
            " pe ON pe.entry_id = e.id"
        )
        columns = (
            "e.service_id::text AS s, pe.p AS p, "
            f"GREATEST(LEAST(e.date_range_start, {mark}), {mark}) AS a, "
            f"LEAST(GREATEST(e.date_range_end, {mark}), {mark}) AS b, "
            "CAST(e.created_at AS date) AS c"
        )
        clinic_params: tuple[Any, ...] = (Entry.clinic.db_value(clinic.id),)
        stamps: tuple[Any, ...] = (high + dt.timedelta(days=1), start, low, high)
    else:
        source = f"{waiting} e INDEXED BY {DEMAND_INDEX}"
        columns = (
            f"e.service_id AS s, {_providers_sql()} AS p, "
            f"MAX(MIN(e.date_range_start, {mark}), {mark}) AS a, "
            f"MIN(MAX(e.date_range_end, {mark}), {mark}) AS b, substr(e.created_at, 1, 10) AS c"
        )
        clinic_params = ()
        text = (high + dt.timedelta(days=1), start, low, high)
        stamps = tuple(d.isoformat() for d in text)
    pattern = "s, p, d, t, ws, we"
    entries = (
        f"SELECT {columns}, e.preferred_days AS d, e.preferred_time_slots AS t, "
        "e.preferred_time_start AS ws, e.preferred_time_end AS we "
        f"FROM {source} WHERE e.clinic_id = {mark} AND {WAITING_ONLY}"
    )
    params = (*stamps, *clinic_params, Entry.clinic.db_value(clinic.id))
    ranges: list[tuple[Key, Any, Any, int]] = []
    waits: list[tuple[Key, Any, int]] = []
    if is_postgres():  # the entries read once: a CTE named twice is materialized
        sql = (
            f"WITH w AS ({entries}) "
            f"SELECT {pattern}, 0, a, b, COUNT(*) FROM w GROUP BY {pattern}, a, b "
            f"UNION ALL SELECT {pattern}, 1, c, NULL, COUNT(*) FROM w GROUP BY {pattern}, c"
        )
        for row in database.execute_sql(sql, params):
            if row[6] == 0:
                ranges.append((row[:6], row[7], row[8], row[9]))
            else:
                waits.append((row[:6], row[7], row[9]))
        return ranges, waits
    # SQLite writes such a CTE to a temporary table and sorts it twice (slower than grouping
    # once on both and splitting the groups here). The rows are read in a subquery the
    # planner keeps whole (LIMIT -1), so each entry's providers are looked up once.
    sql = (
        f"SELECT {pattern}, a, b, c, COUNT(*) FROM ({entries} LIMIT -1) AS w "
        f"GROUP BY {pattern}, a, b, c"
    )
    by_range: dict[tuple[Key, Any, Any], int] = defaultdict(int)
    by_day: dict[tuple[Key, Any], int] = defaultdict(int)
    for row in database.execute_sql(sql, params):
        key, count = row[:6], row[9]
        by_range[(key, row[6], row[7])] += count
        by_day[(key, row[8])] += count
    ranges = [(key, a, b, count) for (key, a, b), count in by_range.items()]
    waits = [(key, c, count) for (key, c), count in by_day.items()]
    return ranges, waits


def _ended_groups(clinic: Clinic, since: dt.datetime) -> list[tuple[Any, ...]]:
    """(service, active preferred provider or NULL for none, days, slots, count) of entries
    that expired or were cancelled from `since` on without ever being offered a slot:
    models.ENDED_INDEX and a join, not a look-up and a text per entry. An entry counts once
    in each of its providers' cells, so the row per provider is what the cells need (an
    entry whose providers are all inactive is under "any", as _cells has it)."""
    mark = _mark()
    source = "" if is_postgres() else f"INDEXED BY {ENDED_INDEX}"
    ep, provider = EntryProvider._meta.table_name, Provider._meta.table_name
    # SQLite: "+" keeps the probe on (entry_id) alone; on (provider_id, entry_id) it probed
    # once per active provider (370 -> 690 ms at 68,000 ended entries).
    plus = "" if is_postgres() else "+"
    sql = (
        "SELECT e.service_id, ep.provider_id, e.preferred_days, e.preferred_time_slots, "
        f"COUNT(*) FROM {Entry._meta.table_name} e {source} LEFT JOIN {ep} ep "
        f"ON ep.entry_id = e.id AND {plus}ep.provider_id IN (SELECT p.id FROM {provider} p "
        f"WHERE p.clinic_id = {mark} AND p.active = {mark}) "
        f"WHERE e.clinic_id = {mark} AND {ENDED_ONLY} AND e.status_changed_at >= {mark} "
        f"AND NOT EXISTS (SELECT 1 FROM {Offer._meta.table_name} o WHERE o.entry_id = e.id)"
        " GROUP BY 1, 2, 3, 4"
    )
    at = Entry.clinic.db_value(clinic.id)
    params = (at, Provider.active.db_value(True), at, _stamp(since))
    return list(database.execute_sql(sql, params).fetchall())


def _stamp(at: dt.datetime) -> Any:
    """A stored UTC instant as a parameter: naive UTC (PostgreSQL), its text (SQLite)."""
    naive = at.astimezone(dt.UTC).replace(tzinfo=None)
    return naive if is_postgres() else naive.isoformat(sep=" ")


def _bits(mask: int, names: tuple[str, ...]) -> list[str]:
    return [name for i, name in enumerate(names) if mask & (1 << i)]


def _parts_of(slots: int) -> list[str]:
    """The parts of day a preference names; any time (none named, or ANYTIME) is ["any"]."""
    if not slots or slots & ANYTIME_BIT:
        return [ANY]
    return _bits(slots, PARTS) or [ANY]


class _Free:
    """Per (service length, provider): for each day offset, the ranges of start minutes
    (local) a slot of that length could take; and per preference pattern the sorted day
    offsets with a fitting slot."""

    def __init__(
        self, clinic: Clinic, providers: list[Provider], today: dt.date, days: int, now: dt.datetime
    ) -> None:
        self.zone = ZoneInfo(clinic.time_zone)
        self.today = today
        last = today + dt.timedelta(days=max(days - 1, 0))
        self.blocks = free_blocks(clinic, providers, today, last) if days > 0 else {}
        earliest = now + dt.timedelta(minutes=offer_time.min_notice(clinic))
        self.earliest = earliest
        self.parts = {
            name: (a, b) for (bit, a, b), name in zip(part_windows(clinic), PARTS, strict=True)
        }
        # pid -> (day offset, block start, block end, earliest start - 1) in local minutes
        self.local: dict[Any, list[tuple[int, int, int, int]]] = defaultdict(list)
        for (day, pid), spans in self.blocks.items():
            offset = (day - today).days
            for start, end in spans:
                if end <= earliest:
                    continue
                ls = start.astimezone(self.zone)
                a = ls.hour * 60 + ls.minute
                b = a + int((end - start).total_seconds() // 60)
                floor = -1
                if start <= earliest:  # a slot must start after the notice (s > earliest)
                    gap = (earliest - start).total_seconds() / 60
                    floor = a + math.floor(gap)
                self.local[pid].append((offset, a, b, floor))
        self.cache: dict[Key, list[int]] = {}
        self.provider_cache: dict[Key, set[int]] = {}

    def days_with_slot(
        self,
        pids: tuple[Any, ...],
        minutes: int,
        days_mask: int,
        slots: int,
        window: tuple[int | None, int | None],
    ) -> list[int]:
        """The day offsets on which one of `pids` has a free slot of `minutes` that the
        preferences admit: each provider's days worked out once per length, parts and
        window (patterns differ mostly in their days), then filtered by weekday."""
        key = (pids, minutes, days_mask, slots, window)
        found = self.cache.get(key)
        if found is not None:
            return found
        good: set[int] = set()
        for pid in pids:
            good.update(self._provider_days(pid, minutes, slots, window))
        if days_mask:
            weekday = self.today.weekday()
            good = {o for o in good if days_mask & (1 << ((weekday + o) % 7))}
        result = sorted(good)
        self.cache[key] = result
        return result

    def _provider_days(
        self, pid: Any, minutes: int, slots: int, window: tuple[int | None, int | None]
    ) -> set[int]:
        key = (pid, minutes, slots, window)
        found = self.provider_cache.get(key)
        if found is not None:
            return found
        parts = None if _parts_of(slots) == [ANY] else [self.parts[p] for p in _parts_of(slots)]
        ws, we = window
        good: set[int] = set()
        for offset, a, b, floor in self.local.get(pid, ()):
            if offset in good:
                continue
            # slots run from the block's start in steps of their length (as the slots
            # screen lists them): starts a + k * minutes, ending by b, after the notice
            low, high = max(a, floor + 1), b - minutes
            if ws is not None and we is not None:
                low, high = max(low, ws), min(high, we - minutes)
            ranges = (
                [(low, high)]
                if parts is None
                else [(max(low, pa), min(high, pb - 1)) for pa, pb in parts]
            )
            for lo, hi in ranges:
                first = a + max(0, -(-(lo - a) // minutes)) * minutes
                if lo <= hi and first <= hi:
                    good.add(offset)
                    break
        self.provider_cache[key] = good
        return good


def _median(histogram: dict[int, int]) -> float:
    """The median of whole days waited, from {days: count} (the two middle ones' mean)."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    wanted = [(total - 1) // 2, total // 2]
    values: list[int] = []
    seen = 0
    for days in sorted(histogram):
        count = histogram[days]
        for w in wanted:
            if seen <= w < seen + count:
                values.append(days)
        seen += count
    return round(statistics.fmean(values), 1)


@dataclass
class _Pattern:
    """What a group of waiting entries asks for, less its dates: its cells, the providers
    that could see it, and (once asked) the day offsets with a fitting free slot."""

    service: Service
    pids: tuple[Any, ...]
    usable: tuple[Any, ...]
    days: int
    slots: int
    window: tuple[int | None, int | None]
    cells: list[Key]
    waiting: int = 0
    unmet: int = 0
    good: list[int] | None = None
    waits: dict[int, int] = field(default_factory=dict)  # whole days waited -> entries


def demand(clinic: Clinic | None = None, service: str | None = None) -> Demand:
    """The demand table and the suggestions (module docstring); `service` a code narrows it."""
    clinic = clinic or get_clinic()
    now = clock.now()
    local = clock.today(clinic.time_zone)
    today = dt.date(local.year, local.month, local.day)  # plain dates: pendulum's are slow here
    utc_today = dt.date(now.year, now.month, now.day) if now.tzinfo == dt.UTC else None
    if utc_today is None:
        at = now.astimezone(dt.UTC)
        utc_today = dt.date(at.year, at.month, at.day)
    services = {s.id: s for s in Service.select().where(Service.clinic == clinic)}
    wanted_service = None
    if service:
        code = str(service).strip().upper()
        wanted = next((s for s in services.values() if s.code == code), None)
        if wanted is None:
            raise ValidationError(
                f"service {service!r} is not a service of this clinic", field="service"
            )
        wanted_service = wanted.id
    providers = list(Provider.select().where(Provider.clinic == clinic, Provider.active == True))  # noqa: E712
    by_pid = {p.id: p for p in providers}
    # service -> providers offering it, in the clinic's provider order
    offers: dict[Any, list[Any]] = defaultdict(list)
    for link in ProviderService.select().where(ProviderService.provider.in_(list(by_pid))):
        offers[link.service_id].append(link.provider_id)
    offered = {service_id: set(pids) for service_id, pids in offers.items()}
    ranges, waits = _waiting_rows(clinic, today)
    ended = _ended_groups(clinic, now - dt.timedelta(days=ENDED_DAYS))

    offsets: dict[Any, int] = {}

    def offset(raw: Any) -> int:  # a stored date (text on SQLite) as days from today
        found = offsets.get(raw)
        if found is None:
            day = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw)[:10])
            found = offsets[raw] = (day - today).days
        return found

    cells_of: dict[Key, tuple[Service, tuple[Any, ...], list[Key]] | None] = {}

    def cells_for(raw_service: Any, raw_pids: Any, days: int, slots: int) -> Any:
        """(service, provider ids, its cells) of a raw group key; None: not in the report."""
        key = (raw_service, raw_pids, days, slots)
        if key not in cells_of:
            what = services.get(_id(raw_service))
            if what is None or (wanted_service is not None and what.id != wanted_service):
                cells_of[key] = None
            else:
                pids = () if raw_pids is None else tuple(_id(p) for p in str(raw_pids).split(","))
                cells_of[key] = (what, pids, _cells(what.code, pids, days, slots, by_pid))
        return cells_of[key]

    # the range ends are clipped to [yesterday, MAX_DAYS - 1 ahead]: the reach is the same
    reach = min(max((offset(row[2]) for row in ranges), default=-1) + 1, MAX_DAYS)
    free = _Free(clinic, providers, today, max(reach, 0), now)
    patterns: dict[Key, _Pattern | None] = {}

    def pattern_of(key: Key) -> _Pattern | None:
        raw_service, raw_pids, days, slots, ws, we = key
        found = cells_for(raw_service, raw_pids, days, slots)
        if found is None:
            return None
        what, pids, cells = found
        offering = offered.get(what.id, set())
        every = tuple(offers.get(what.id, ()))
        usable = tuple(p for p in (pids or every) if p in by_pid and p in offering)
        window = (ws, we) if ws is not None and we is not None else (None, None)
        return _Pattern(what, pids, usable, days, slots, window, cells)

    unmet_ranges: dict[tuple[Key, int, int], int] = defaultdict(int)
    total = no_slot_total = 0
    for key, start, end, count in ranges:
        if key in patterns:
            pattern = patterns[key]
        else:
            pattern = patterns[key] = pattern_of(key)
        if pattern is None:
            continue
        total += count
        pattern.waiting += count
        first, last = offset(start), min(offset(end), reach - 1)  # start >= today already
        has_slot = False
        if first <= last and pattern.usable:
            if pattern.good is None:
                pattern.good = free.days_with_slot(
                    pattern.usable,
                    pattern.service.duration_minutes,
                    pattern.days,
                    pattern.slots,
                    pattern.window,
                )
            i = bisect_left(pattern.good, first)
            has_slot = i < len(pattern.good) and pattern.good[i] <= last
        if not has_slot:
            no_slot_total += count
            pattern.unmet += count
            if first <= last:
                span = (first, last) if last - first < 6 else (0, -1)  # -1: every weekday
                unmet_ranges[(key, *span)] += count
    added_days: dict[Any, int] = {}
    for key, added, count in waits:
        pattern = patterns.get(key)
        if pattern is None:
            continue
        waited = added_days.get(added)
        if waited is None:
            day = added if isinstance(added, dt.date) else dt.date.fromisoformat(str(added))
            waited = added_days[added] = (utc_today - day).days
        pattern.waits[waited] = pattern.waits.get(waited, 0) + count
    reported = {key: pattern for key, pattern in patterns.items() if pattern is not None}
    waiting: dict[Key, int] = defaultdict(int)
    unmet: dict[Key, int] = defaultdict(int)
    for pattern in reported.values():
        for cell in pattern.cells:
            waiting[cell] += pattern.waiting
            unmet[cell] += pattern.unmet
    histograms: dict[Key, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for pattern in reported.values():
        for cell in pattern.cells:
            histogram = histograms[cell]
            for waited, count in pattern.waits.items():
                histogram[waited] += count
    ended_by_cell: dict[Key, int] = defaultdict(int)
    for raw_service, raw_pid, days, slots, count in ended:
        found = cells_for(raw_service, raw_pid, days, slots)  # one provider: its cells
        for cell in found[2] if found else ():
            ended_by_cell[cell] += int(count)
    cells = [
        Cell(
            key[0],
            key[1],
            key[2],
            key[3],
            waiting.get(key, 0),
            unmet.get(key, 0),
            _median(histograms[key]) if key in histograms else 0.0,
            ended_by_cell.get(key, 0),
        )
        for key in set(waiting) | set(ended_by_cell)
    ]
    cells.sort(key=lambda c: (-c.no_free_slot, -c.waiting, -c.ended_without_offer, _order(c)))
    suggestions = _suggest(unmet_ranges, reported, offers, by_pid, free, today, reach)
    return Demand(
        clinic.name, today, max(reach, 0), total, no_slot_total, ENDED_DAYS, cells, suggestions
    )


def _order(c: Cell) -> tuple[Any, ...]:
    day = vocab.DAYS.index(c.weekday) if c.weekday in vocab.DAYS else 7
    part = PARTS.index(c.part) if c.part in PARTS else 3
    return (c.service, c.provider, day, part)


def _cells(
    service: str, pids: tuple[Any, ...], days: int, slots: int, by_pid: dict[Any, Provider]
) -> list[Key]:
    names = [by_pid[p].code for p in pids if p in by_pid] or [ANY]
    weekdays = _bits(days, vocab.DAYS) or [ANY]
    parts = _parts_of(slots)
    return [(service, n, d, p) for n in names for d in weekdays for p in parts]


def _spots(
    pattern: _Pattern, offers: dict[Any, list[Any]], number: dict[Any, int], free: _Free
) -> list[tuple[Key, int, int]]:
    """(provider's number, weekday, part), its weekday's bit and the service's length, for
    each place an extra hour could see this pattern's entries (their providers, days, parts
    of day and window). Providers go by number: a UUID hashes in Python, per entry group."""
    what, days = pattern.service, pattern.days
    parts = PARTS if _parts_of(pattern.slots) == [ANY] else tuple(_parts_of(pattern.slots))
    listed = offers.get(what.id, ())
    offering = set(listed)
    ws, we = pattern.window
    length = what.duration_minutes
    fitting = [
        part
        for part in parts
        if ws is None
        or we is None
        or max(free.parts[part][0], ws) + length <= min(free.parts[part][1], we)
    ]
    weekdays = [w for w in range(7) if not days or days & (1 << w)]
    return [
        ((number[pid], weekday, part), 1 << weekday, length)
        for pid in pattern.pids or tuple(listed)
        if pid in number and pid in offering
        for weekday in weekdays
        for part in fitting
    ]


def _suggest(
    ranges: dict[tuple[Key, int, int], int],
    patterns: dict[Key, _Pattern],
    offers: dict[Any, list[Any]],
    by_pid: dict[Any, Provider],
    free: _Free,
    today: dt.date,
    reach: int,
) -> list[Suggestion]:
    """The provider x weekday x part of day whose extra hours would fit the most waiting
    entries that have no free slot (module docstring)."""
    by_weekdays: dict[tuple[Key, int], int] = defaultdict(int)
    masks: dict[tuple[int, int], int] = {}
    for (key, first, last), count in ranges.items():  # first > last: every weekday
        mask = masks.get((first, last))
        if mask is None:
            mask = 127
            if first <= last:
                mask = 0
                for i in range(last - first + 1):
                    mask |= 1 << (today + dt.timedelta(days=first + i)).weekday()
            masks[(first, last)] = mask
        by_weekdays[(key, mask)] += count
    number = {pid: i for i, pid in enumerate(by_pid)}
    spots_of: dict[Key, list[tuple[Key, int, int]]] = {}
    fits: dict[Key, int] = defaultdict(int)
    minutes: dict[Key, int] = defaultdict(int)
    for (key, mask), count in by_weekdays.items():
        spots = spots_of.get(key)
        if spots is None:
            spots = spots_of[key] = _spots(patterns[key], offers, number, free)
        for spot, weekday_bit, length in spots:
            if mask & weekday_bit:
                fits[spot] += count
                minutes[spot] += count * length
    weeks = max(1, math.ceil(reach / 7))
    found: list[Suggestion] = []
    numbered = list(by_pid.values())
    for (i, weekday, part), count in fits.items():
        a, b = free.parts[part]
        most = max(1, (b - a) // 60)
        average = minutes[(i, weekday, part)] / count
        hours = min(most, max(1, math.ceil(count * average / 60 / weeks)))
        served = min(count, int(hours * 60 // average) * weeks)
        if served:
            provider = numbered[i]
            found.append(
                Suggestion(provider.code, provider.name, vocab.DAYS[weekday], part, hours, served)
            )
    found.sort(key=lambda s: (-s.fits, s.hours, s.provider, vocab.DAYS.index(s.weekday), s.part))
    return found[:SUGGESTIONS]
