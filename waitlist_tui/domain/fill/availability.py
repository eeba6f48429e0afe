"""Free time: weekly hours minus time off, booked appointments and open openings, in the
clinic's time zone (correct across daylight-saving changes: each day's hours are placed on
that day's wall clock), and the slots an entry could take."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from peewee import fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    Appointment,
    Clinic,
    Entry,
    EntryProvider,
    Opening,
    Provider,
    ProviderService,
    Service,
    TimeOff,
)
from waitlist_tui.domain.timeutil import iso, parse_hhmm

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]
MAX_DAYS = 92
# Appointments and openings last at most a clinic day (a calendar's day away is one row per
# day, 25 hours when the clocks go back): a lower bound on starts_at turns "overlaps the
# window" into an index range instead of a scan of all history.
LONGEST = dt.timedelta(hours=26)


def wall_time(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """`minutes` after local midnight of `day`, as a UTC instant. A time the clocks skip lands
    after the jump (hours 02:00-06:00 on a spring-forward day start at 03:00)."""
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    local = naive.replace(tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:  # skipped: move past the gap
        utc = (naive + dt.timedelta(hours=1)).replace(tzinfo=zone).astimezone(UTC)
    return utc


def subtract(blocks: list[Interval], taken: list[Interval]) -> list[Interval]:
    """Blocks minus taken intervals; both sorted or not, the result is sorted."""
    result = []
    taken = sorted(taken)
    for start, end in sorted(blocks):
        cursor = start
        for t_start, t_end in taken:
            if t_end <= cursor or t_start >= end:
                continue
            if t_start > cursor:
                result.append((cursor, t_start))
            cursor = max(cursor, t_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def busy(
    provider_ids: list[Any], start: dt.datetime, end: dt.datetime
) -> dict[Any, list[Interval]]:
    """Booked appointments, time off and open openings of these providers overlapping
    [start, end): three indexed range queries, not one per day. Appointments and openings
    starting at the same time come back once, with the latest end (their union is the same
    busy time): a calendar with many offers per slot read tens of thousands of rows
    (a million-entry demo: 36,000 in 30 days, 3,900 with this); the covering indexes
    (schema v14) answer it without reading the tables."""
    result: dict[Any, list[Interval]] = defaultdict(list)
    queries = (
        Appointment.select(Appointment.provider, Appointment.starts_at, fn.MAX(Appointment.ends_at))
        .where(
            Appointment.provider.in_(provider_ids),
            Appointment.status == vocab.APPT_BOOKED,
            Appointment.starts_at < end,
            Appointment.starts_at > start - LONGEST,
            Appointment.ends_at > start,
        )
        .group_by(Appointment.provider, Appointment.starts_at),
        TimeOff.select(TimeOff.provider, TimeOff.starts_at, TimeOff.ends_at).where(
            TimeOff.provider.in_(provider_ids), TimeOff.starts_at < end, TimeOff.ends_at > start
        ),
        Opening.select(Opening.provider, Opening.starts_at, fn.MAX(Opening.ends_at))
        .where(
            Opening.provider.in_(provider_ids),
            Opening.status == vocab.OPENING_OPEN,
            Opening.starts_at < end,
            Opening.starts_at > start - LONGEST,
            Opening.ends_at > start,
        )
        .group_by(Opening.provider, Opening.starts_at),
    )
    by_key = {key: pid for pid in provider_ids for key in (pid, str(pid), getattr(pid, "hex", pid))}
    # Each time once: the rows repeat a few hundred times of day (one slot's end is the next
    # one's start, providers share the clinic's grid); 30 days at 1,000,000 entries are
    # 6,000 values of which 1,000 differ, and parsing each was a third of the call.
    aware: dict[Any, dt.datetime] = {}
    for query in queries:
        # Raw rows: thousands of them on a busy calendar, and peewee's per-value conversion
        # would be most of the cost. SQLite gives text, PostgreSQL datetimes; _aware takes both.
        for provider_id, s, e in database.execute(query):
            start_at = aware.get(s) or aware.setdefault(s, _aware(s))
            end_at = aware.get(e) or aware.setdefault(e, _aware(e))
            result[by_key.get(provider_id, provider_id)].append((start_at, end_at))
    return result


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def working_blocks(provider: Provider, day: dt.date, zone: ZoneInfo) -> list[Interval]:
    windows = provider.weekly_hours.get(vocab.DAYS[day.weekday()], [])
    return [
        (wall_time(day, parse_hhmm(a, "hours"), zone), wall_time(day, parse_hhmm(b, "hours"), zone))
        for a, b in windows
    ]


def free_blocks(
    clinic: Clinic, providers: list[Provider], first: dt.date, last: dt.date
) -> dict[tuple[dt.date, Any], list[Interval]]:
    """(local date, provider id) -> free intervals, for every working day in the range."""
    zone = ZoneInfo(clinic.time_zone)
    start = wall_time(first, 0, zone)
    end = wall_time(last + dt.timedelta(days=1), 0, zone)
    found = busy([p.id for p in providers], start, end)
    # Spans shorter than a day (appointments, openings) are looked up by start with bisect;
    # longer ones (a week of time off) apply to every day.
    taken = {
        pid: sorted(s for s in spans if s[1] - s[0] <= LONGEST) for pid, spans in found.items()
    }
    long_spans = {pid: [s for s in spans if s[1] - s[0] > LONGEST] for pid, spans in found.items()}
    starts = {pid: [s for s, _ in spans] for pid, spans in taken.items()}
    result = {}
    day = first
    while day <= last:
        for provider in providers:
            blocks = working_blocks(provider, day, zone)
            if blocks:
                # Only the busy spans that can touch this day's blocks (they are < 1 day long).
                spans = taken.get(provider.id, [])
                lo = bisect_left(starts.get(provider.id, []), blocks[0][0] - LONGEST)
                hi = bisect_left(starts.get(provider.id, []), blocks[-1][1])
                result[(day, provider.id)] = subtract(
                    blocks, spans[lo:hi] + long_spans.get(provider.id, [])
                )
        day += dt.timedelta(days=1)
    return result


def part_windows(clinic: Clinic) -> list[tuple[int, int, int]]:
    """(bit, first minute, end minute) of the clinic's MORNING, AFTERNOON and EVENING."""
    result = []
    for i, name in enumerate(vocab.TIME_SLOTS[:3]):
        a, b = clinic.parts_of_day.get(name, vocab.DEFAULT_PARTS_OF_DAY[name])
        result.append((1 << i, parse_hhmm(a, name), parse_hhmm(b, name)))
    return result


def start_part_mask(windows: list[tuple[int, int, int]], minute: int) -> int:
    """The part of day a slot belongs to is the one its start falls in (a "morning
    appointment" is one that starts in the morning); matching uses the same rule."""
    return next((bit for bit, a, b in windows if a <= minute < b), 0)


ANYTIME_BIT = 1 << vocab.TIME_SLOTS.index("ANYTIME")


def time_fits(
    entry_slots: int,
    window: tuple[int | None, int | None],
    slot_mask: int,
    local_first: int,
    local_last: int,
) -> bool:
    """The entry's parts of day (any of them) and explicit window both admit the slot."""
    parts = entry_slots & ~ANYTIME_BIT
    if parts and not entry_slots & ANYTIME_BIT and not parts & slot_mask:
        return False
    start, end = window
    return start is None or end is None or (start <= local_first and local_last <= end)


def outside_hours(
    provider: Any, starts: dt.datetime, ends: dt.datetime, time_zone: str
) -> str | None:
    """Why a slot lies outside the provider's weekly hours, in the desk's words; None when
    one working window holds it. A typed gap at 01:30 or on a Sunday went through without a
    word (and then was missing from the day's calendar)."""
    zone = ZoneInfo(time_zone)
    first, last = starts.astimezone(zone), ends.astimezone(zone)
    day = vocab.DAYS[first.weekday()]
    windows = provider.weekly_hours.get(day, [])
    begin = first.hour * 60 + first.minute
    end = begin + int((last - first).total_seconds() // 60)
    for a, b in windows:
        if parse_hhmm(a, day) <= begin and end <= parse_hhmm(b, day):
            return None
    if not windows:
        return f"{provider.code} does not work on {day.title()}s"
    hours = ", ".join(f"{a}-{b}" for a, b in windows)
    return f"{first:%H:%M}-{last:%H:%M} is outside {provider.code}'s hours on {first:%a} ({hours})"


def soft_fails(
    wanted: Collection[Any],
    provider: Any,
    days_mask: int,
    slots_mask: int,
    window: tuple[int | None, int | None],
    weekday: int,
    start_minute: int,
    duration: int,
    part_mask: int,
) -> tuple[str, ...]:
    """The soft rules an entry's preferences fail for a slot (DESIGN.md section 4), in plain
    Python: provider, day, time. matching.py asks the same in SQL; the demo's history is
    labelled with this, so it never shows a false EXACT (tests hold the two forms equal)."""
    fails = []
    if wanted and provider not in wanted:
        fails.append("provider")
    if days_mask and not days_mask & vocab.day_bit(vocab.DAYS[weekday]):
        fails.append("day")
    if not time_fits(slots_mask, window, part_mask, start_minute, start_minute + duration):
        fails.append("time")
    return tuple(fails)


@dataclass(frozen=True)
class SlotGroup:
    date: dt.date
    provider_id: IdRef
    provider_code: str
    provider_name: str
    slots: list[Interval]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "provider_id": str(self.provider_id),
            "provider": self.provider_code,
            "provider_name": self.provider_name,
            "slots": [{"start": iso(s), "end": iso(e)} for s, e in self.slots],
        }


def find_matching_slots(
    entry: Entry, start: dt.date | None = None, end: dt.date | None = None, limit: int = 50
) -> list[SlotGroup]:
    """Free slots that fit the entry's service, inside its range, days, parts of day or window,
    with its preferred providers (any who offer the service when it has none)."""
    clinic: Clinic = entry.clinic
    zone = ZoneInfo(clinic.time_zone)
    today = clock.today(clinic.time_zone)
    first = max(d for d in (start, entry.date_range_start, today) if d is not None)
    last = min(d for d in (end, entry.date_range_end) if d is not None)
    if (last - first).days > MAX_DAYS:
        raise ValidationError(f"search at most {MAX_DAYS} days at once", field="end")
    if last < first or limit < 1:
        return []
    service: Service = entry.service
    preferred = [
        link.provider_id
        for link in EntryProvider.select(EntryProvider.provider).where(EntryProvider.entry == entry)
    ]
    offering = (
        Provider.select()
        .join(ProviderService, on=ProviderService.provider == Provider.id)
        .where(ProviderService.service == service, Provider.active == True)  # noqa: E712
        .order_by(Provider.name)
    )
    providers = [p for p in offering if not preferred or p.id in preferred]
    if not providers:
        return []
    # a slot inside the clinic's notice can no longer be offered (offer_time)
    earliest = clock.now() + dt.timedelta(minutes=offer_time.min_notice(clinic))
    duration = dt.timedelta(minutes=service.duration_minutes)
    window = (entry.preferred_time_start, entry.preferred_time_end)
    parts = part_windows(clinic)
    groups: list[SlotGroup] = []
    found = 0
    blocks = free_blocks(clinic, providers, first, last)
    for day in sorted({d for d, _ in blocks}):
        if entry.preferred_days and not entry.preferred_days & vocab.day_bit(
            vocab.DAYS[day.weekday()]
        ):
            continue
        for provider in providers:
            slots: list[Interval] = []
            for block_start, block_end in blocks.get((day, provider.id), []):
                cursor = block_start
                while cursor + duration <= block_end and found + len(slots) < limit:
                    slot_end = cursor + duration
                    local = cursor.astimezone(zone)
                    first_min = local.hour * 60 + local.minute
                    if cursor > earliest and time_fits(
                        entry.preferred_time_slots,
                        window,
                        start_part_mask(parts, first_min),
                        first_min,
                        first_min + service.duration_minutes,
                    ):
                        slots.append((cursor, slot_end))
                    cursor = slot_end
            if slots:
                groups.append(SlotGroup(day, provider.id, provider.code, provider.name, slots))
                found += len(slots)
            if found >= limit:
                return groups
    return groups
