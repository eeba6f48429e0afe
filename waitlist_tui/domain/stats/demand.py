"""Where demand goes unmet (issue 22 part 4), read only: for each service x provider (or any
provider) x weekday (or any day) x part of day (or any time), the waiting entries whose
preferences point there, how many of them have no free slot in their date range, their median
wait, and how many entries there ended (expired or cancelled) without ever being offered a
slot; and the few extra hours that would fit the most waiting entries that have no slot.

How it is read at 100,000 waiting entries: one row per preference pattern (service,
preferred providers, days, parts of day, time window; 3,400 at 99,000 waiting), grouped as
the database reads models.DEMAND_INDEX, whose order is the pattern's (schema v22: SQLite
sorts nothing), each row holding its entries' date ranges and UTC days added as text joined
by commas. Python counts those texts' values in C (str.split, collections.Counter) and works
each distinct value out once; it never walks the (pattern, dates) groups one by one (82,000
of them at 99,000 waiting took a second between the database's sort and Python's walk).
Free time is read once (fill/availability.free_blocks over the days the ranges reach) and
turned into, per (service length, provider, day), the start minutes a slot could take; a
pattern's days with a fitting slot are the bits of an int, and so is each distinct range:
a range has a free slot when the two share a bit. A cell's median wait comes from
its patterns' days added, counted together. The ended entries are grouped by their
preferred providers' text and split per active provider here. Each entry's preferred
providers and whether it was ever offered a slot are columns kept by triggers (schema v19,
store/demand_columns.py) inside the two covering indexes, so neither query looks anything up
per entry.

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
from collections import Counter, defaultdict
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


def _mark() -> str:
    return "%s" if is_postgres() else "?"


# The status is written out (not a parameter): SQLite then reads models.DEMAND_INDEX alone.
WAITING_ONLY = f"e.status = '{vocab.WAITING}'"
ENDED_ONLY = f"e.status IN ('{vocab.CANCELLED}', '{vocab.EXPIRED}')"


def _waiting_patterns(clinic: Clinic, today: dt.date, utc_today: dt.date) -> list[tuple[Any, ...]]:
    """The waiting entries (models.DEMAND_INDEX) one row per preference pattern: (service,
    providers text, days, slots, window start, end, last range end, ranges, waits), where
    `ranges` holds each entry's date range and `waits` its UTC day added, as text joined by
    commas (_Tokens reads them). One row per pattern, not one per pattern and dates: at
    99,000 waiting the grouping into 82,000 groups, their rows and Python's walk of them
    were most of the time; the entries' dates are counted in C (str.split, Counter) here.
    SQLite groups as it reads the index (its order is the pattern's, v22)."""
    mark = _mark()
    waiting = Entry._meta.table_name
    if is_postgres():  # days from today (ranges) and days waited (waits), as integers
        service = "e.service_id::text"
        ranges = (
            f"string_agg((e.date_range_start - {mark}) || ':' || (e.date_range_end - {mark}), ',')"
        )
        waits = f"string_agg(({mark} - CAST(e.created_at AS date))::text, ',')"
        source = f"{waiting} e"
        params: tuple[Any, ...] = (today, today, utc_today)
    else:  # the dates' text, worked out once per distinct value (_Tokens)
        service = "e.service_id"
        ranges = "group_concat(e.date_range_start || e.date_range_end, ',')"
        waits = "group_concat(substr(e.created_at, 1, 10), ',')"
        source = f"{waiting} e INDEXED BY {DEMAND_INDEX}"
        params = ()
    sql = (
        f"SELECT {service}, e.provider_ids, e.preferred_days, e.preferred_time_slots, "
        "e.preferred_time_start, e.preferred_time_end, MAX(e.date_range_end), "
        f"{ranges}, {waits} FROM {source} WHERE e.clinic_id = {mark} AND {WAITING_ONLY} "
        "GROUP BY e.service_id, e.preferred_days, e.preferred_time_slots, "
        "e.preferred_time_start, e.preferred_time_end, e.provider_ids"
    )
    return list(database.execute_sql(sql, (*params, Entry.clinic.db_value(clinic.id))))


class _Tokens:
    """The text tokens of _waiting_patterns as day offsets, each distinct one worked out once:
    a range as (its days, its weekdays), the days from today the report sees in it as the
    bits of an int (as _Free.slot_days) and their weekdays' mask (bit 0 Monday; 0 when it
    sees none of them); an added day as whole days waited."""

    def __init__(self, today: dt.date, utc_today: dt.date, reach: int) -> None:
        self.today, self.utc_today, self.reach = today, utc_today, reach
        self.postgres = is_postgres()
        self.spans: dict[str, tuple[int, int]] = {}
        self.waited: dict[str, int] = {}
        self.masks: dict[tuple[int, int], int] = {}

    def span(self, token: str) -> tuple[int, int]:
        if self.postgres:
            start, _, end = token.partition(":")
            first, last = int(start), int(end)
        else:
            a, b = dt.date.fromisoformat(token[:10]), dt.date.fromisoformat(token[10:])
            first, last = (a - self.today).days, (b - self.today).days
        # as far as the report sees: from today (an end before it is yesterday) to MAX_DAYS
        # ahead, and no further than the last range's end (the reach)
        first = min(max(first, 0), MAX_DAYS)
        last = min(max(last, -1), MAX_DAYS - 1, self.reach - 1)
        days = mask = 0
        if first <= last:
            days = (1 << (last + 1)) - (1 << first)
            span = (first, last) if last - first < 6 else (0, -1)  # -1: every weekday
            mask = self.masks.get(span) or self.masks.setdefault(span, _weekdays(self.today, *span))
        found = self.spans[token] = (days, mask)
        return found

    def waited_days(self, token: str) -> int:
        found = self.waited.get(token)
        if found is None:
            if self.postgres:
                found = int(token)
            else:
                found = (self.utc_today - dt.date.fromisoformat(token)).days
            self.waited[token] = found
        return found


def _ended_groups(clinic: Clinic, since: dt.datetime) -> list[tuple[Any, ...]]:
    """(service, preferred providers text or NULL, days, slots, count) of entries that
    expired or were cancelled from `since` on without ever being offered a slot: read from
    models.ENDED_INDEX alone (entry.ever_offered and entry.provider_ids, schema v19)."""
    mark = _mark()
    source = "" if is_postgres() else f"INDEXED BY {ENDED_INDEX}"
    sql = (
        "SELECT e.service_id, e.provider_ids, e.preferred_days, e.preferred_time_slots, "
        f"COUNT(*) FROM {Entry._meta.table_name} e {source} "
        f"WHERE e.clinic_id = {mark} AND {ENDED_ONLY} AND e.status_changed_at >= {mark} "
        f"AND NOT e.ever_offered GROUP BY 1, 2, 3, 4"
    )
    params = (Entry.clinic.db_value(clinic.id), _stamp(since))
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
    (local) a slot of that length could take; and per preference pattern the day offsets
    with a fitting slot (bits of an int)."""

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
        self.cache: dict[Key, int] = {}
        self.provider_cache: dict[Key, int] = {}
        self.weekday_cache: dict[int, int] = {}

    def slot_days(
        self,
        pids: tuple[Any, ...],
        tag: int,
        minutes: int,
        days_mask: int,
        slots: int,
        window: tuple[int | None, int | None],
    ) -> int:
        """The day offsets on which one of `pids` has a free slot of `minutes` that the
        preferences admit, as the bits of an int (bit i: i days from today), so that a
        range has one when it shares a bit with the range's own (_Tokens: one AND per
        range). Each provider's days worked out once per length, parts and window (patterns
        differ mostly in their days), then kept to the preferred weekdays. `tag` stands for
        `pids` in the cache key (equal tuples, equal tags)."""
        key = (tag, minutes, days_mask, slots, window)
        found = self.cache.get(key)
        if found is not None:
            return found
        good = 0
        for pid in pids:
            good |= self._provider_days(pid, minutes, slots, window)
        if days_mask:
            good &= self._on_weekdays(days_mask)
        self.cache[key] = good
        return good

    def _on_weekdays(self, days_mask: int) -> int:
        """The day offsets (bits) that fall on the weekdays of `days_mask` (bit 0 Monday)."""
        found = self.weekday_cache.get(days_mask)
        if found is None:
            weekday = self.today.weekday()
            found = sum(
                1 << o for o in range(MAX_DAYS + 1) if days_mask & (1 << ((weekday + o) % 7))
            )
            self.weekday_cache[days_mask] = found
        return found

    def _provider_days(
        self, pid: Any, minutes: int, slots: int, window: tuple[int | None, int | None]
    ) -> int:
        """The day offsets (bits) on which `pid` has a free slot of `minutes` within the
        parts of day and window."""
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
        bits = self.provider_cache[key] = sum(1 << offset for offset in good)
        return bits


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
    """What a group of waiting entries asks for, less its dates: its cells and the providers
    that could see it."""

    service: Service
    pids: tuple[Any, ...]
    usable: tuple[Any, ...]
    usable_tag: int  # stands for `usable` in _Free's cache keys (a UUID hashes in Python)
    days: int
    slots: int
    window: tuple[int | None, int | None]
    cells: list[Key]
    # the weekdays of a range (a mask) -> its waiting entries with no free slot (_suggest)
    unmet_weekdays: dict[int, int] = field(default_factory=dict)


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
    rows = _waiting_patterns(clinic, today, utc_today)
    ended = _ended_groups(clinic, now - dt.timedelta(days=ENDED_DAYS))

    cells_of: dict[Key, tuple[Service, tuple[Any, ...], list[Key]] | None] = {}
    ids_of: dict[Any, tuple[uuid.UUID, ...]] = {}  # providers text -> ids, parsed once
    service_of: dict[Any, Service | None] = {}  # service id as read -> the service

    def cells_for(raw_service: Any, raw_pids: Any, days: int, slots: int) -> Any:
        """(service, provider ids, its cells) of a raw group key; None: not in the report."""
        key = (raw_service, raw_pids, days, slots)
        if key not in cells_of:
            what = service_of.get(raw_service)
            if what is None:
                what = service_of[raw_service] = services.get(_id(raw_service))
            if what is None or (wanted_service is not None and what.id != wanted_service):
                cells_of[key] = None
            else:
                pids = ids_of.get(raw_pids)
                if pids is None:
                    listed = () if raw_pids is None else str(raw_pids).split(",")
                    pids = ids_of[raw_pids] = tuple(_id(p) for p in listed)
                cells_of[key] = (what, pids, _cells(what.code, pids, days, slots, by_pid))
        return cells_of[key]

    # the range ends are clipped to [yesterday, MAX_DAYS - 1 ahead]: the reach is the same
    last_end = max((row[6] for row in rows), default=None)
    reach = 0
    if last_end is not None:
        day = last_end if isinstance(last_end, dt.date) else dt.date.fromisoformat(last_end)
        reach = min(max((day - today).days, -1), MAX_DAYS - 1) + 1
    free = _Free(clinic, providers, today, max(reach, 0), now)
    tokens = _Tokens(today, utc_today, reach)
    patterns: dict[Key, _Pattern] = {}

    usable_of: dict[Key, tuple[tuple[Any, ...], int]] = {}  # (service, providers text)
    tags: dict[tuple[Any, ...], int] = {}

    def pattern_of(key: Key) -> _Pattern | None:
        raw_service, raw_pids, days, slots, ws, we = key
        found = cells_for(raw_service, raw_pids, days, slots)
        if found is None:
            return None
        what, pids, cells = found
        usable = usable_of.get((raw_service, raw_pids))
        if usable is None:  # the providers that offer the service, and a number for them
            offering = offered.get(what.id, set())
            every = tuple(offers.get(what.id, ()))
            chosen = tuple(p for p in (pids or every) if p in by_pid and p in offering)
            tag = tags.setdefault(chosen, len(tags))
            usable = usable_of[(raw_service, raw_pids)] = (chosen, tag)
        window = (ws, we) if ws is not None and we is not None else (None, None)
        return _Pattern(what, pids, usable[0], usable[1], days, slots, window, cells)

    # per cells (cells_for's key): [its cells, waiting, no free slot, days added texts]
    sums: dict[Key, list[Any]] = {}
    spans, span_of = tokens.spans, tokens.span
    total = no_slot_total = 0
    for row in rows:
        key = row[:6]
        pattern = pattern_of(key)
        if pattern is None:
            continue
        patterns[key] = pattern
        good = 0
        if pattern.usable:
            good = free.slot_days(
                pattern.usable,
                pattern.usable_tag,
                pattern.service.duration_minutes,
                pattern.days,
                pattern.slots,
                pattern.window,
            )
        count = row[7].count(",") + 1
        no_slot = 0
        unmet_weekdays = pattern.unmet_weekdays
        for token, n in Counter(row[7].split(",")).items():
            days, weekdays = spans.get(token) or span_of(token)
            if good & days:  # a free slot in its range
                continue
            no_slot += n
            if weekdays:  # a range the report sees (first <= last)
                unmet_weekdays[weekdays] = unmet_weekdays.get(weekdays, 0) + n
        total += count
        no_slot_total += no_slot
        found = sums.get(key[:4])
        if found is None:
            found = sums[key[:4]] = [pattern.cells, 0, 0, []]
        found[1] += count
        found[2] += no_slot
        found[3].append(row[8])
    waiting: dict[Key, int] = defaultdict(int)
    unmet: dict[Key, int] = defaultdict(int)
    added: dict[Key, list[str]] = defaultdict(list)  # cell -> its patterns' waits text
    for cells_there, count, no_slot, texts in sums.values():
        text = ",".join(texts)
        for cell in cells_there:
            waiting[cell] += count
            unmet[cell] += no_slot
            added[cell].append(text)
    # each cell's entries counted per UTC day added (in C), then as whole days waited
    histograms: dict[Key, dict[int, int]] = {}
    for cell, texts in added.items():
        histogram: dict[int, int] = {}
        for token, n in Counter(",".join(texts).split(",")).items():
            waited = tokens.waited_days(token)
            histogram[waited] = histogram.get(waited, 0) + n
        histograms[cell] = histogram
    ended_by_cell: dict[Key, int] = defaultdict(int)
    active_ids: dict[Any, list[str | None]] = {}
    for raw_service, raw_pids, days, slots, count in ended:
        # an entry counts once in each of its active providers' cells ("any" when none is)
        names = active_ids.get(raw_pids)
        if names is None:
            listed = () if raw_pids is None else str(raw_pids).split(",")
            names = active_ids[raw_pids] = [p for p in listed if _id(p) in by_pid] or [None]
        for raw_pid in names:
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
    suggestions = _suggest(patterns, by_pid, free, reach)
    return Demand(
        clinic.name, today, max(reach, 0), total, no_slot_total, ENDED_DAYS, cells, suggestions
    )


def _weekdays(today: dt.date, first: int, last: int) -> int:
    """The weekdays (bit 0 Monday) of the days first..last from today; first > last: all."""
    if first > last:
        return 127
    mask = 0
    for i in range(last - first + 1):
        mask |= 1 << (today + dt.timedelta(days=first + i)).weekday()
    return mask


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
    pattern: _Pattern,
    number: dict[Any, int],
    numbers: dict[int, tuple[int, ...]],
    fitting_of: dict[Key, tuple[str, ...]],
    free: _Free,
) -> Key:
    """(providers' numbers, weekdays mask, parts, the service's length): the places an extra
    hour could see this pattern's entries (their providers, days, parts of day and window).
    Providers go by number (`numbers`: per usable_tag, worked out once): a UUID hashes in
    Python. The parts per (slots, window, length) are worked out once (`fitting_of`)."""
    length = pattern.service.duration_minutes
    key = (pattern.slots, pattern.window, length)
    fitting = fitting_of.get(key)
    if fitting is None:
        named = _parts_of(pattern.slots)
        parts = PARTS if named == [ANY] else tuple(named)
        ws, we = pattern.window
        fitting = fitting_of[key] = tuple(
            part
            for part in parts
            if ws is None
            or we is None
            or max(free.parts[part][0], ws) + length <= min(free.parts[part][1], we)
        )
    weekdays = pattern.days & 127 if pattern.days else 127  # bit 0 Monday
    pids = numbers.get(pattern.usable_tag)
    if pids is None:  # its preferred providers (or all) that offer the service and are active
        pids = numbers[pattern.usable_tag] = tuple(number[pid] for pid in pattern.usable)
    return (pids, weekdays, fitting, length)


def _suggest(
    patterns: dict[Key, _Pattern],
    by_pid: dict[Any, Provider],
    free: _Free,
    reach: int,
) -> list[Suggestion]:
    """The provider x weekday x part of day whose extra hours would fit the most waiting
    entries that have no free slot (module docstring). The counts are summed per set of
    places first (patterns that differ in their window or days mostly share one), then
    spread over the places."""
    number = {pid: i for i, pid in enumerate(by_pid)}
    numbers: dict[int, tuple[int, ...]] = {}
    fitting_of: dict[Key, tuple[str, ...]] = {}
    by_places: dict[Key, int] = defaultdict(int)
    for pattern in patterns.values():
        if not pattern.unmet_weekdays:
            continue
        pids, weekdays, fitting, length = _spots(pattern, number, numbers, fitting_of, free)
        if not (pids and fitting):
            continue
        for mask, count in pattern.unmet_weekdays.items():
            seen = weekdays & mask
            if seen:
                by_places[(pids, seen, fitting, length)] += count
    fits: dict[Key, int] = defaultdict(int)
    minutes: dict[Key, int] = defaultdict(int)
    for (pids, seen, fitting, length), count in by_places.items():
        weekdays = [w for w in range(7) if seen & (1 << w)]
        for i in pids:
            for weekday in weekdays:
                for part in fitting:
                    spot = (i, weekday, part)
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
