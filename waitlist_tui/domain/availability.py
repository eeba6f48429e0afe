"""Free time: weekly hours minus time off, booked appointments and open openings, in the
clinic's time zone (correct across daylight-saving changes: each day's hours are placed on
that day's wall clock), and the slots an entry could take."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.entry_views import iso
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.models import (
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
from waitlist_tui.domain.timeutil import parse_hhmm

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]
MAX_DAYS = 92


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
    [start, end): three indexed range queries, not one per day."""
    result: dict[Any, list[Interval]] = defaultdict(list)
    queries = (
        Appointment.select(Appointment.provider, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.provider.in_(provider_ids),
            Appointment.status == vocab.APPT_BOOKED,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        ),
        TimeOff.select(TimeOff.provider, TimeOff.starts_at, TimeOff.ends_at).where(
            TimeOff.provider.in_(provider_ids), TimeOff.starts_at < end, TimeOff.ends_at > start
        ),
        Opening.select(Opening.provider, Opening.starts_at, Opening.ends_at).where(
            Opening.provider.in_(provider_ids),
            Opening.status == vocab.OPENING_OPEN,
            Opening.starts_at < end,
            Opening.ends_at > start,
        ),
    )
    for query in queries:
        for provider_id, s, e in query.tuples():
            result[provider_id].append((_aware(s), _aware(e)))
    return result


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):  # .tuples() skips field conversion on some drivers
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
    taken = busy([p.id for p in providers], start, end)
    result = {}
    day = first
    while day <= last:
        for provider in providers:
            blocks = working_blocks(provider, day, zone)
            if blocks:
                result[(day, provider.id)] = subtract(blocks, taken.get(provider.id, []))
        day += dt.timedelta(days=1)
    return result


def slot_parts(clinic: Clinic, start: dt.datetime, end: dt.datetime) -> int:
    """Bit mask (vocab.TIME_SLOTS) of the parts of day that hold the whole slot."""
    zone = ZoneInfo(clinic.time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    first = local_start.hour * 60 + local_start.minute
    last = first + int((local_end - local_start).total_seconds() // 60)
    mask = 0
    for i, name in enumerate(vocab.TIME_SLOTS[:3]):
        a, b = clinic.parts_of_day.get(name, vocab.DEFAULT_PARTS_OF_DAY[name])
        if parse_hhmm(a, name) <= first and last <= parse_hhmm(b, name):
            mask |= 1 << i
    return mask


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


@dataclass(frozen=True)
class SlotGroup:
    date: dt.date
    provider_id: Any
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
    now = clock.now()
    duration = dt.timedelta(minutes=service.duration_minutes)
    window = (entry.preferred_time_start, entry.preferred_time_end)
    groups: list[SlotGroup] = []
    found = 0
    blocks = free_blocks(clinic, providers, first, last)
    for day in sorted({d for d, _ in blocks}):
        if entry.preferred_days and not entry.preferred_days & vocab.day_bit(
            vocab.DAYS[day.weekday()]
        ):
            continue
        for provider in providers:
            slots = []
            for block_start, block_end in blocks.get((day, provider.id), []):
                cursor = block_start
                while cursor + duration <= block_end and found + len(slots) < limit:
                    slot_end = cursor + duration
                    local = cursor.astimezone(zone)
                    first_min = local.hour * 60 + local.minute
                    if cursor > now and time_fits(
                        entry.preferred_time_slots,
                        window,
                        slot_parts(clinic, cursor, slot_end),
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
