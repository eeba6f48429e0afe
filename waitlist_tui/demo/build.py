"""Demo data: a realistic clinic with clients, a calendar and a waitlist with months of history.

Deterministic for a seed and relative to today. A second process generates the rows as plain
tuples (times already in their stored form) and streams them in chunks (demo_stream) while this
one bulk-inserts them in one transaction; indexes are sorted once at the end. The stats
rollups are worked out by the generating process meanwhile (demo_rollups) and copied in whole
(side_tables). A SQLite file nobody else has open is built anew beside itself, with no
journal, and renamed into place (demo_file). 1M entries take about 105 s
on two quiet cores, with a peak of some 520 MB: only one chunk of rows is held at a time
(what later rows read of earlier entries stays packed in Made).
"""

from __future__ import annotations

import datetime as dt
import random
from array import array
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from operator import methodcaller
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.demo import fairness as demo_fairness
from waitlist_tui.demo import file as demo_file
from waitlist_tui.demo.names import FIRST, LAST, NOTES, STAFF
from waitlist_tui.demo.rollups import Rollups
from waitlist_tui.demo.stream import ROWS_DONE, Emit, Stream
from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.calendar.fetch import is_feed
from waitlist_tui.domain.calendar.ical import read_calendar
from waitlist_tui.domain.calendar.sync import clinic_days, days_of, sources_of, sync_all, window
from waitlist_tui.domain.catalog.clinics import get_clinic, has_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Conflict, DomainError, ValidationError
from waitlist_tui.domain.fill import offer_time
from waitlist_tui.domain.fill.availability import part_windows, soft_fails, start_part_mask
from waitlist_tui.domain.store import audit, side_tables
from waitlist_tui.domain.store.bulk_columns import CLIENT_COLUMNS, ENTRY_COLUMNS
from waitlist_tui.domain.store.db import bulk_insert, bulk_load_mode, database, is_postgres
from waitlist_tui.domain.store.maintenance import create_indexes, finish_bulk_load, wipe
from waitlist_tui.domain.store.models import (
    Clinic,
    Provider,
    ProviderService,
    Service,
    StatsCount,
    StatsPoint,
)
from waitlist_tui.domain.store.rollup_sql import COUNT_COLUMNS, POINT_COLUMNS
from waitlist_tui.domain.store.schema import get_meta, set_meta
from waitlist_tui.domain.textinput import search_text

DEMO_BUILT_ON = "demo_built_on"
# Set by `demo` once the build and its stories (demo/stories.py, written after the build's
# own transaction) are all in: a build killed between them is built again, never kept.
DEMO_FINISHED_ON = "demo_finished_on"
UTC = dt.UTC
DAY = [dt.timedelta(days=n) for n in range(800)]
MINUTE = [dt.timedelta(minutes=n) for n in range(1440)]
# One to three weekdays (Monday bit 0): the shapes people ask for.
WEEKDAY_MASKS = [m for m in range(1, 32) if 1 <= bin(m).count("1") <= 3]
PRIORITIES = (1, 2, 3, 4, 5)
PRIORITY_CUMULATIVE = (0.05, 0.20, 0.75, 0.90, 1.0)  # mostly routine (3), a few urgent
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
CHUNK = 20_000  # entries generated between two hand-overs of rows to the database
COMPLETE = "complete"  # emitted with the names of tables whose rows are all handed over
# Rows hold times as stored (naive UTC text, db.stored_time's form) and dates as ISO text:
# formatted once where they are made, they cross to the inserting process as plain strings
# and bind without adapters. A methodcaller runs in C: millions of calls for 1M entries.
stamp = methodcaller("isoformat", " ", "microseconds")
# Cumulative odds of each status for an entry at most 30 days old, and for an older one.
STATUS_ODDS = (
    (
        (0.66, vocab.WAITING),
        (0.74, vocab.OFFERED),
        (0.88, vocab.BOOKED),
        (0.95, vocab.CANCELLED),
        (1.0, vocab.EXPIRED),
    ),
    ((0.55, vocab.BOOKED), (0.78, vocab.EXPIRED), (1.0, vocab.CANCELLED)),
)
STATUS_TABLES = tuple(tuple(zip(*odds, strict=True)) for odds in STATUS_ODDS)  # bounds, statuses
END_OF_DAY = dt.time(23, 59)


class _DateText(dict[dt.date, str]):
    """date.isoformat(), worked out once per date (entries ask for the same few hundred)."""

    def __missing__(self, day: dt.date) -> str:
        found = self[day] = day.isoformat()
        return found


DATE_TEXT = _DateText()

APPT_COLUMNS = (
    "id",
    "clinic_id",
    "client_id",
    "provider_id",
    "service_id",
    "entry_id",
    "starts_at",
    "ends_at",
    "status",
    "created_at",
    "updated_at",
    "cancelled_at",
    "created_by",
    "updated_by",
    "version",
    "away",  # NOT NULL without a database default (schema v7): a bulk row says it
)
OPENING_COLUMNS = (
    "id",
    "clinic_id",
    "provider_id",
    "service_id",
    "appointment_id",
    "starts_at",
    "ends_at",
    "status",
    "source",
    "workflow",
    "created_at",
    "updated_at",
    "filled_at",
    "created_by",
    "updated_by",
    "version",
)
OFFER_COLUMNS = (
    "id",
    "opening_id",
    "entry_id",
    "status",
    "match_type",
    "sent_at",
    "expires_at",
    "responded_at",
    "note",
    "created_by",
    "updated_by",
    "version",
)


EVENT_COLUMNS = (
    "id",
    "clinic_id",
    "service_id",
    "provider_id",
    "starts_at",
    "ends_at",
    "capacity",
    "status",
    "version",
)
ENROLMENT_COLUMNS = (
    "id",
    "instance_id",
    "client_id",
    "status",
    "created_at",
    "updated_at",
    "offered_at",
    "expires_at",
    "created_by",
    "updated_by",
    "version",
)
# Table, columns and the Rows list holding them, in foreign-key order (PostgreSQL checks
# every row as it goes in).
TABLES = (
    ("client", CLIENT_COLUMNS, "clients"),
    ("entry", ENTRY_COLUMNS, "entries"),
    ("entry_provider", ("entry_id", "provider_id"), "entry_providers"),
    ("appointment", APPT_COLUMNS, "appointments"),
    ("opening", OPENING_COLUMNS, "openings"),
    ("offer", OFFER_COLUMNS, "offers"),
    ("event_instance", EVENT_COLUMNS, "events"),
    ("enrolment", ENROLMENT_COLUMNS, "enrolments"),
)
COLUMNS = {table: columns for table, columns, _ in TABLES}


@dataclass(frozen=True, slots=True)
class Staff:
    """A provider as the generator reads it: plain attributes, no model lookups per row."""

    hex: str
    weekly_hours: dict[str, list[list[str]]]
    # Working windows by weekday (Monday 0) in minutes after midnight, read once.
    windows: tuple[list[tuple[int, int]], ...] = field(init=False)

    def __post_init__(self) -> None:
        def minutes(hhmm: str) -> int:
            return int(hhmm[:2]) * 60 + int(hhmm[3:])

        windows = tuple(
            [(minutes(start), minutes(end)) for start, end in self.weekly_hours.get(day, [])]
            for day in vocab.DAYS
        )
        object.__setattr__(self, "windows", windows)


@dataclass(frozen=True, slots=True)
class Offering:
    """A service as the generator reads it, with the providers who offer it (in link order)."""

    hex: str
    duration_minutes: int
    appointment_type: str
    providers: list[Staff]


# What an entry asked for, as the soft rules read it: providers (hex), days, parts, window.
Prefs = tuple[frozenset[str], int, int, tuple[int | None, int | None]]


class Made:
    """Every entry made so far as later bookings read it (one of them, at random, declined an
    offer): its id, service, days, parts, window and the providers it asked for. Entries
    handed over to the database are kept here in packed columns, some 20 bytes each, not
    as their rows (a million rows held 2 GB); `rows` is the current chunk's, not yet handed
    over. A sequence, so that rng.choice draws from it as it drew from the rows."""

    def __init__(self, rows: list[tuple[Any, ...]], wanted_of: dict[str, frozenset[str]]) -> None:
        self.rows, self.wanted_of = rows, wanted_of  # the chunk's (Generator.rows.entries)
        self._ids = bytearray()  # 16 bytes an entry
        self._service = array("H")  # index in _services
        self._days, self._slots = array("B"), array("B")
        self._window = array("h")  # start and end, -1 for none
        self._wanted = array("H")  # index in _asked
        self._services: list[str] = []
        self._service_at: dict[str, int] = {}
        self._asked: list[frozenset[str]] = [frozenset()]
        self._asked_at: dict[frozenset[str], int] = {frozenset(): 0}

    def __len__(self) -> int:
        return len(self._service) + len(self.rows)

    def __getitem__(self, i: int) -> tuple[str, str, Prefs]:
        """(id, service hex, prefs) of the i-th entry made."""
        packed = len(self._service)
        if i >= packed:
            row = self.rows[i - packed]
            wanted = self.wanted_of.get(row[0], self._asked[0])
            return row[0], row[3], (wanted, row[8], row[9], (row[10], row[11]))
        lo, hi = self._window[2 * i], self._window[2 * i + 1]
        prefs = (
            self._asked[self._wanted[i]],
            self._days[i],
            self._slots[i],
            (None if lo < 0 else lo, None if hi < 0 else hi),
        )
        return self._ids[16 * i : 16 * i + 16].hex(), self._services[self._service[i]], prefs

    def pack(self) -> None:
        """Move the chunk's entries into the packed columns (the caller then clears them)."""
        rows = self.rows
        self._ids += bytes.fromhex("".join(row[0] for row in rows))
        for row in rows:
            at = self._service_at.get(row[3])
            if at is None:
                at = self._service_at[row[3]] = len(self._services)
                self._services.append(row[3])
            self._service.append(at)
            wanted = self.wanted_of.get(row[0])
            found = 0 if wanted is None else self._asked_at.get(wanted)
            if found is None:
                found = self._asked_at[wanted] = len(self._asked)  # type: ignore[index]
                self._asked.append(wanted)  # type: ignore[arg-type]
            self._wanted.append(found)
        self._days.extend(row[8] for row in rows)
        self._slots.extend(row[9] for row in rows)
        self._window.extend(-1 if v is None else v for row in rows for v in row[10:12])


@dataclass
class Rows:
    clients: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    entry_providers: list[tuple[Any, ...]] = field(default_factory=list)
    appointments: list[tuple[Any, ...]] = field(default_factory=list)
    openings: list[tuple[Any, ...]] = field(default_factory=list)
    offers: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    enrolments: list[tuple[Any, ...]] = field(default_factory=list)


class Generator:
    """Builds the rows; kept apart from the writes so it can be reasoned about (and profiled)."""

    def __init__(self, clinic: Clinic, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)
        self._bits = self.rng.getrandbits
        self.clinic = clinic
        self.zone = ZoneInfo(clinic.time_zone)
        self.now = dt.datetime.fromtimestamp(now.timestamp(), UTC).replace(tzinfo=None)
        self.today = self.now.replace(tzinfo=UTC).astimezone(self.zone).date()
        self.hold = dt.timedelta(minutes=clinic.offer_hold_minutes)
        self.parts = part_windows(clinic)
        self.notice = dt.timedelta(minutes=offer_time.min_notice(clinic))
        # entry id -> the providers it asked for (hex), for labelling offers made to it later;
        # the current chunk's (then packed in `made`)
        self.wanted_of: dict[str, frozenset[str]] = {}
        providers = {
            p.id: Staff(p.id.hex, p.weekly_hours)
            for p in Provider.select().where(Provider.clinic == clinic)
        }
        offered_by: dict[Any, list[Staff]] = {}
        for link in ProviderService.select():
            if link.provider_id in providers:
                offered_by.setdefault(link.service_id, []).append(providers[link.provider_id])
        services = [
            (
                s.kind,
                Offering(
                    s.id.hex, s.duration_minutes, s.appointment_type, offered_by.get(s.id, [])
                ),
            )
            for s in Service.select().where(Service.clinic == clinic)
        ]
        self.services = [s for kind, s in services if kind == "appointment"]
        self.event_services = [s for kind, s in services if kind == "event"]
        self.providers = list(providers.values())
        self.rows = Rows()
        self.made = Made(self.rows.entries, self.wanted_of)
        self.client_ids: list[str] = []
        self.clinic_hex = clinic.id.hex
        self._offsets: dict[dt.date, dt.timedelta] = {}
        self._local: dict[tuple[dt.date, int], dt.datetime] = {}
        # Future bookings made from the waitlist, so the calendar does not double-book them.
        self.booked_ahead: dict[tuple[str, dt.date], list[tuple[dt.datetime, dt.datetime]]] = {}
        self.service_clinic = {s.hex: self.clinic_hex for _, s in services}
        self.emit: Emit | None = None  # where flush() hands new rows over
        self.batch: Callable[[Rows], None] | None = None  # what else reads each chunk's rows

    def flush(self) -> None:
        """Hand the rows made since the last flush to `emit`, table by table in foreign-key
        order, and to `batch`; then let them go (what later rows read of the entries stays
        in `made`), so that memory holds one chunk, not the whole demo. make_calendar and
        make_events read rows they made themselves, so they never flush half-way."""
        if self.emit is None:
            return
        rows = self.rows
        for table, _, name in TABLES:
            made = getattr(rows, name)
            if made:
                self.emit(table, made[:])
        if self.batch is not None:
            self.batch(rows)
        self.made.pack()
        self.wanted_of.clear()
        for _, _, name in TABLES:
            getattr(rows, name).clear()  # in place: make_entries holds the lists

    def uid(self) -> str:
        """A random version-4 UUID in the stored hex form, reproducible from the seed."""
        return ((self._bits(128) & _V4_CLEAR) | _V4_SET).to_bytes(16).hex()  # = f"{n:032x}"

    def offset_on(self, day: dt.date) -> dt.timedelta:
        """The zone's UTC offset on a day (at noon): enough to tell a created time's local date
        for demo purposes, and far cheaper than a zone conversion per row."""
        offset = self._offsets.get(day)
        if offset is None:
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
            offset = self._offsets[day] = noon.astimezone(self.zone).utcoffset() or dt.timedelta()
        return offset

    def below(self, n: int) -> int:
        """rng.randrange(n) without its overhead: this runs millions of times for 1M entries."""
        return int(self.rng.random() * n)

    def local(self, day: dt.date, minutes: int) -> dt.datetime:
        """A wall time on `day` as naive UTC (the stored form); remembered, as a million
        entries ask for the same few thousand slots again and again."""
        found = self._local.get((day, minutes))
        if found is None:
            wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
            found = wall.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
            self._local[day, minutes] = found
        return found

    def label(self, prefs: Prefs, provider: Staff, day: dt.date, minute: int, duration: int) -> str:
        """EXACT or PARTIAL by the live engine's soft rules (availability.soft_fails): the
        demo's history labelled every offer EXACT, or EXACT at random."""
        wanted, days, slots, window = prefs
        fails = soft_fails(
            wanted,
            provider.hex,
            days,
            slots,
            window,
            day.weekday(),
            minute,
            duration,
            start_part_mask(self.parts, minute),
        )
        return vocab.PARTIAL if fails else vocab.EXACT

    @staticmethod
    def working_day(
        provider: Staff, day: dt.date, first: dt.date, last: dt.date, duration: int
    ) -> tuple[dt.date, int]:
        """The nearest day from `day` on (then back from it) within first..last on which the
        provider works long enough, and the start of that day's first window: a slot on a day
        off (a Sunday offer for a provider with no Sunday hours) went into the demo's history.
        No draw, so the generator's later draws stay as they were."""
        span = (last - first).days + 1
        for step in range(max(span, 1) + 7):
            candidate = first + dt.timedelta(days=((day - first).days + step) % max(span, 1))
            if step >= span:  # the range holds no working day: look past its end
                candidate = last + dt.timedelta(days=step - span + 1)
            for lo, hi in provider.windows[candidate.weekday()]:
                if hi - lo >= duration:
                    return candidate, lo
        return day, 9 * 60

    def working_start(self, provider: Staff, day: dt.date, duration: int) -> int | None:
        windows = provider.windows[day.weekday()]
        if not windows:
            return None
        lo, end = self.rng.choice(windows)
        hi = end - duration
        if hi < lo:
            return None
        return lo + self.below((hi - lo) // 15 + 1) * 15

    # -- clients ---------------------------------------------------------------------------------
    def make_clients(self, count: int) -> None:
        rng = self.rng
        rnd = rng.random  # self.below(n) is int(rnd() * n): inlined, it runs millions of times
        for i in range(count):
            if i % CHUNK == 0:
                self.flush()
            first, last = rng.choice(FIRST), rng.choice(LAST)
            area = rng.choice(("617", "857", "781", "508"))
            phone = f"+1{area}{201 + int(rnd() * 798)}{int(rnd() * 10000):04d}"
            email = (
                f"{first}.{last}{i}@example.com".lower().replace("'", "")
                if rng.random() < 0.8
                else None
            )
            created = stamp(self.now - DAY[30 + int(rnd() * 370)] - MINUTE[int(rnd() * 1440)])
            actor = rng.choice(STAFF)
            cid = self.uid()
            self.client_ids.append(cid)
            self.rows.clients.append(
                (
                    cid,
                    self.clinic_hex,
                    first,
                    last,
                    phone,
                    email,
                    rng.random() < 0.9,
                    email is not None,
                    search_text(first, last, email, phone),
                    created,
                    created,
                    actor,
                    actor,
                    1,
                )
            )

    # -- entries ---------------------------------------------------------------------------------
    def make_entries(self, count: int) -> None:
        rng, rows = self.rng, self.rows
        rnd = rng.random
        # Locals for what the loop reads millions of times (same values, same draws).
        now, today, services, client_ids = self.now, self.today, self.services, self.client_ids
        clinic, active, entry_rows = self.clinic_hex, vocab.ACTIVE_STATUSES, rows.entries
        links, uid = rows.entry_providers, self.uid
        offsets, offset_on = self._offsets, self.offset_on
        for n in range(count):
            if n % CHUNK == 0:
                self.flush()
            recent = rnd() < 0.35
            age = int(rnd() * 31) if recent else 31 + int(rnd() * 334)
            created = now - DAY[age] - MINUTE[int(rnd() * 600)]
            day = created.date()
            created_day = (created + (offsets.get(day) or offset_on(day))).date()
            bounds, statuses = STATUS_TABLES[age > 30]
            status = statuses[bisect(bounds, rnd())]  # the first status whose odds exceed a draw
            service = services[int(rnd() * len(services))]
            providers = service.providers
            wanted: list[Staff] = []
            if providers and rnd() < 0.4:
                wanted = rng.sample(providers, k=1 if rnd() < 0.8 else min(2, len(providers)))
            days = 0
            if rnd() < 0.45:
                days = WEEKDAY_MASKS[int(rnd() * len(WEEKDAY_MASKS))]
            slots = 0
            if rnd() < 0.5:
                slots = 1 << rng.choice((0, 0, 1, 2))
            window: tuple[int | None, int | None] = (None, None)
            if slots == 0 and rnd() < 0.1:
                window = (rng.choice((8, 9, 10)) * 60, rng.choice((13, 14, 16)) * 60)
            if status in active:
                end = today + DAY[3 + int(rnd() * 26)]
                start = max(created_day, end - DAY[7 + int(rnd() * 24)])
            else:
                start = created_day + DAY[int(rnd() * 6)]
                end = start + DAY[7 + int(rnd() * 24)]
            original = stamp(created + DAY[20 + int(rnd() * 40)]) if rnd() < 0.4 else None
            actor = STAFF[int(rnd() * len(STAFF))]
            eid, client_id = uid(), client_ids[int(rnd() * len(client_ids))]
            changed, booked_at, updated_by, version = created, None, actor, 1
            asked = frozenset(p.hex for p in wanted)
            if asked:
                self.wanted_of[eid] = asked
            prefs = (asked, days, slots, window)
            if status == vocab.BOOKED:
                waited = int(rnd() * max(1, min(age, 30)))
                booked_at = created + DAY[waited] + MINUTE[30 + int(rnd() * 870)]
                booked_at = self.book(
                    eid, client_id, service, wanted or providers, booked_at, start, end, prefs
                )
                changed, version = booked_at, 3
            elif status == vocab.OFFERED:
                changed, version = now - MINUTE[1 + int(rnd() * 99)], 2
                self.offer(eid, service, wanted or providers, changed, start, end, prefs)
            elif status == vocab.EXPIRED:
                changed, updated_by, version = (
                    min(now, dt.datetime.combine(end, END_OF_DAY)),
                    "system",
                    2,
                )
            elif status == vocab.CANCELLED:
                changed, version = created + DAY[int(rnd() * max(1, age))], 2
            for p in wanted:
                links.append((eid, p.hex))
            changed_at = stamp(changed)
            entry_rows.append(
                (
                    eid,
                    clinic,
                    client_id,
                    service.hex,
                    status,
                    PRIORITIES[bisect(PRIORITY_CUMULATIVE, rnd())],
                    vocab.INSURANCE_PAY if rnd() < 0.6 else vocab.SELF_PAY,
                    service.appointment_type,
                    days,
                    slots,
                    window[0],
                    window[1],
                    DATE_TEXT[start],
                    DATE_TEXT[end],
                    NOTES[int(rnd() * len(NOTES))],
                    None,
                    original,
                    stamp(created),
                    changed_at,
                    changed_at,
                    booked_at and stamp(booked_at),
                    actor,
                    updated_by,
                    version,
                )
            )

    def book(
        self,
        entry_id: str,
        client_id: str,
        service: Offering,
        providers: list[Staff],
        booked_at: dt.datetime,
        start: dt.date,
        end: dt.date,
        prefs: Prefs,
    ) -> dt.datetime:
        """A filled opening: cancelled slot, an accepted offer (sometimes after a decline).
        Returns when it was booked: never after the appointment itself."""
        rng, rows = self.rng, self.rows
        rnd = rng.random
        length = MINUTE[service.duration_minutes]
        for _ in range(8):  # a free time for a future booking; history may overlap freely
            provider = providers[int(rnd() * len(providers))]
            day = start + DAY[int(rnd() * ((end - start).days + 1))]
            found = self.working_start(provider, day, service.duration_minutes)
            if found is None:
                day, minute = self.working_day(provider, day, start, end, service.duration_minutes)
            else:
                minute = found
            slot = self.local(day, minute)
            slot_end = slot + length
            if slot <= self.now:
                break
            taken = self.booked_ahead.setdefault((provider.hex, day), [])
            if not any(s < slot_end and slot < e for s, e in taken):
                taken.append((slot, slot_end))
                break
        if slot < booked_at:  # booked after the appointment took place: book it before
            booked_at = slot - MINUTE[60]
        opened = booked_at - MINUTE[10 + int(rnd() * 590)]
        opening_id, appt_id = self.uid(), self.uid()
        booked, starts, ends = stamp(booked_at), stamp(slot), stamp(slot_end)
        rows.openings.append(
            (
                opening_id,
                self.clinic_hex,
                provider.hex,
                service.hex,
                None,
                starts,
                ends,
                vocab.OPENING_FILLED,
                "cancellation",
                vocab.SEQUENTIAL,
                stamp(opened),
                booked,
                booked,
                "maria",
                "maria",
                2,
            )
        )
        if rng.random() < 0.2 and self.made:
            declined_id = self.uid()  # drawn in the order they always were: later draws stay
            other, other_service, theirs = rng.choice(self.made)
            if other_service == service.hex:  # another service's entry could never have had it
                rows.offers.append(
                    (
                        declined_id,
                        opening_id,
                        other,
                        vocab.OFFER_DECLINED,
                        self.label(theirs, provider, day, minute, service.duration_minutes),
                        stamp(opened),
                        stamp(opened + self.hold),
                        stamp(opened + MINUTE[5]),
                        "declined by phone",
                        "maria",
                        "maria",
                        2,
                    )
                )
        accepted_id = self.uid()
        rng.random()  # the draw that once picked the label at random: later draws stay put
        rows.offers.append(
            (
                accepted_id,
                opening_id,
                entry_id,
                vocab.OFFER_ACCEPTED,
                self.label(prefs, provider, day, minute, service.duration_minutes),
                stamp(opened + MINUTE[6]),
                stamp(opened + MINUTE[6] + self.hold),
                booked,
                "",
                "maria",
                "maria",
                2,
            )
        )
        rows.appointments.append(
            (
                appt_id,
                self.clinic_hex,
                client_id,
                provider.hex,
                service.hex,
                entry_id,
                starts,
                ends,
                vocab.APPT_BOOKED if slot > self.now else vocab.APPT_COMPLETED,
                booked,
                booked,
                None,
                "maria",
                "maria",
                1,
                False,
            )
        )
        return booked_at

    def offer(
        self,
        entry_id: str,
        service: Offering,
        providers: list[Staff],
        sent: dt.datetime,
        start: dt.date,
        end: dt.date,
        prefs: Prefs,
    ) -> None:
        """A live offer, on a day the provider works, labelled by the soft rules, its
        deadline capped by the clinic's notice as the live engine caps it."""
        rng, rows = self.rng, self.rows
        provider = rng.choice(providers)
        first = max(start, self.today + dt.timedelta(days=1))
        day = first + dt.timedelta(days=self.below(max(1, (end - first).days + 1)))
        minute = self.working_start(provider, day, service.duration_minutes)
        if minute is None:
            day, minute = self.working_day(provider, day, first, end, service.duration_minutes)
        slot = self.local(day, minute)
        deadline = min(sent + self.hold, slot - self.notice)
        opening_id = self.uid()
        rows.openings.append(
            (
                opening_id,
                self.clinic_hex,
                provider.hex,
                service.hex,
                None,
                stamp(slot),
                stamp(slot + dt.timedelta(minutes=service.duration_minutes)),
                vocab.OPENING_OPEN,
                "cancellation",
                vocab.SEQUENTIAL,
                stamp(sent - dt.timedelta(minutes=3)),
                stamp(sent),
                None,
                "maria",
                "maria",
                1,
            )
        )
        rows.offers.append(
            (
                self.uid(),
                opening_id,
                entry_id,
                vocab.OFFER_SENT,
                self.label(prefs, provider, day, minute, service.duration_minutes),
                stamp(sent),
                stamp(deadline),
                None,
                "",
                "maria",
                "maria",
                1,
            )
        )

    # -- the calendar ----------------------------------------------------------------------------
    def make_calendar(self, days: int = 21) -> None:
        """Booked appointments over the coming weeks (about 70% full) and a few of today's
        cancellations left open for the desk to fill."""
        rng, rows, now = self.rng, self.rows, stamp(self.now)
        cancellable = []
        for provider in self.providers:
            services = [s for s in self.services if provider in s.providers]
            if not services:
                continue
            for offset in range(days):
                day = self.today + dt.timedelta(days=offset)
                for start, end in provider.weekly_hours.get(vocab.DAYS[day.weekday()], []):
                    minute = int(start[:2]) * 60 + int(start[3:])
                    stop = int(end[:2]) * 60 + int(end[3:])
                    while True:
                        service = rng.choice(services)
                        if minute + service.duration_minutes > stop:
                            break
                        at = self.local(day, minute)
                        length = dt.timedelta(minutes=service.duration_minutes)
                        taken = self.booked_ahead.get((provider.hex, day), ())
                        clash = any(s < at + length and at < e for s, e in taken)
                        if rng.random() < 0.7 and not clash:
                            appt = (
                                self.uid(),
                                self.clinic_hex,
                                rng.choice(self.client_ids),
                                provider.hex,
                                service.hex,
                                None,
                                stamp(at),
                                stamp(at + length),
                                vocab.APPT_BOOKED,
                                stamp(at - dt.timedelta(days=3 + self.below(37))),
                                now,
                                None,
                                rng.choice(STAFF),
                                rng.choice(STAFF),
                                1,
                                False,
                            )
                            rows.appointments.append(appt)
                            if offset <= 1 and at > self.now + dt.timedelta(hours=2):
                                cancellable.append(len(rows.appointments) - 1)
                        minute += service.duration_minutes
        for index in rng.sample(cancellable, k=min(3, len(cancellable))):
            cancelled = list(rows.appointments[index])
            cancelled[8], cancelled[11], cancelled[10] = vocab.APPT_CANCELLED, now, now
            rows.appointments[index] = tuple(cancelled)
            rows.openings.append(
                (
                    self.uid(),
                    self.clinic_hex,
                    cancelled[3],
                    cancelled[4],
                    cancelled[0],
                    cancelled[6],
                    cancelled[7],
                    vocab.OPENING_OPEN,
                    "cancellation",
                    None,
                    now,
                    now,
                    None,
                    "maria",
                    "maria",
                    1,
                )
            )

    def make_events(self, weeks: int = 3) -> None:
        """Pilates classes; the next two are full and keep a waitlist."""
        rng, rows = self.rng, self.rows
        for service in self.event_services:
            teachers = service.providers
            for offset in range(weeks * 7):
                day = self.today + dt.timedelta(days=offset + 1)
                if day.weekday() not in (0, 5):
                    continue
                at = self.local(day, 18 * 60 if day.weekday() == 0 else 10 * 60)
                iid = self.uid()
                rows.events.append(
                    (
                        iid,
                        self.clinic_hex,
                        service.hex,
                        teachers[0].hex if teachers else None,
                        stamp(at),
                        stamp(at + dt.timedelta(minutes=service.duration_minutes)),
                        8,
                        "scheduled",
                        1,
                    )
                )
                full = len(rows.events) <= 2
                taken = rng.sample(self.client_ids, k=8 + (3 if full else 0))
                enrolled = 8 if full else 2 + self.below(6)
                for i, cid in enumerate(taken[: enrolled + (3 if full else 0)]):
                    status = "enrolled" if i < enrolled else "waitlisted"
                    when = stamp(self.now - dt.timedelta(days=1 + self.below(9), minutes=i))
                    rows.enrolments.append(
                        (self.uid(), iid, cid, status, when, when, None, None, "maria", "maria", 1)
                    )


# Written by the generating process to the side file (side_tables) on SQLite: the stats
# rollups it works out, indexed and analyzed beside the loader's own index builds.
SIDE_MODELS = (StatsCount, StatsPoint)


POINT_NAMES = POINT_COLUMNS.split(", ")
_FILLS = "demo_fill_points"  # fill points wait here: stats_point holds every pair first


def _generate(gen: Generator, entries: int, side: tuple[str, list[str]] | None, emit: Emit) -> bool:
    """The generating side: every row, in chunks as they are made; and when the loader gives
    a side file (its path and the side tables' DDL), the stats rollups worked out chunk by
    chunk, their points written there as they come and their counts at the end, beside the
    loader's index builds. True when it wrote them."""
    gen.emit = emit
    writer = None
    if side is not None:
        writer = side_tables.SideWriter(*side)
        writer.execute(f"CREATE TABLE {_FILLS} ({POINT_COLUMNS})")  # no types: values as given
        rollups = Rollups(gen.service_clinic)

        def batch(rows: Rows) -> None:
            pairs, fills = rollups.add(
                (rows.entries, ENTRY_COLUMNS),
                (rows.appointments, APPT_COLUMNS),
                (rows.openings, OPENING_COLUMNS),
                (rows.offers, OFFER_COLUMNS),
            )
            writer.append("stats_point", POINT_NAMES, pairs)
            writer.append(_FILLS, POINT_NAMES, fills)

        gen.batch = batch
    try:
        gen.make_clients(max(40, entries // 2))  # many clients come back to the list
        gen.flush()
        emit(COMPLETE, [("client",)])  # their indexes are built while the entries are made
        gen.make_entries(entries)
        gen.make_calendar()
        gen.make_events()
        gen.flush()
        emit(ROWS_DONE, [])
        if writer is None:
            return False
        writer.append("stats_count", COUNT_COLUMNS.split(", "), rollups.count_rows())
        writer.execute(
            f"INSERT INTO stats_point ({POINT_COLUMNS}) SELECT {POINT_COLUMNS} FROM {_FILLS} "
            "ORDER BY rowid"
        )
        writer.execute(f"DROP TABLE {_FILLS}")
        writer.finish()
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    return True


def _end_with_the_client() -> None:
    """PostgreSQL 14+: have the server check every second, even in the middle of a long
    statement (an index build at a million entries), that this client is still there, so a
    killed build's transaction and its locks on every table end within a second, not when
    the statement does. For this transaction only."""
    version = database.execute_sql("SHOW server_version_num").fetchone()[0]
    if int(version) >= 140000:
        database.execute_sql("SET LOCAL client_connection_check_interval = 1000")


def _fill(entries: int, seed: int, actor: str, now: dt.datetime) -> dict[str, int]:
    """Replace the bound database's contents with the demo, in one transaction: rows stream in
    from the generating process, indexes are sorted once at the end and the rollups filled
    once (on SQLite worked out by the generating process and copied in from its side file;
    PostgreSQL groups them faster itself)."""
    # A caller's own transaction would keep the side file attached: then SQL groups them.
    local = not is_postgres() and not database.in_transaction()
    tables = [model._meta.table_name for model in SIDE_MODELS]
    with side_tables.side_file(local) as side_path:
        with database.atomic():
            if is_postgres():
                _end_with_the_client()
            wipe(indexes=False)
            apply_setup(demo_clinic(), actor)
            clinic = Clinic.get()
            gen = Generator(clinic, seed, now)
            gen.booked_ahead.update(calendar_busy(clinic, gen))
            side = None
            if side_path is not None:
                side = (side_path, side_tables.target_schema(SIDE_MODELS))
            stream = Stream(partial(_generate, gen, entries, side))
            try:
                counts = dict.fromkeys(COLUMNS, 0)
                for table, rows in stream:
                    if table == COMPLETE:
                        create_indexes([name for (name,) in rows])
                    else:
                        counts[table] += bulk_insert(table, COLUMNS[table], rows)
                set_meta(DEMO_BUILT_ON, gen.today.isoformat())
                audit.record(
                    actor,
                    "demo.build",
                    "clinic",
                    clinic.id,
                    {"entries": [None, entries], "seed": [None, seed]},
                )
                create_indexes()
                if side_path is not None:
                    side_tables.analyze_others(tables)  # while the side file is written
                written = stream.result()
                if written and side_path is not None:
                    side_tables.copy_in(side_path, tables)
                finish_bulk_load(rollups_loaded=written)
            finally:
                stream.close()
        if is_postgres() and not database.in_transaction():
            # Fresh statistics, and on PostgreSQL a visibility map too: without it the queue's
            # count reads the table instead of its index (first page 13 -> 9 ms at 100k).
            database.execute_sql("VACUUM ANALYZE")
        elif side_path is None:
            database.execute_sql("ANALYZE")  # fresh statistics, or the planner guesses badly
    with database.atomic():
        sync_all(Clinic.get(), actor)  # the sample feeds: the demo opens with synced calendars
    demo_fairness.add_history(seed, actor)  # rows of its own: the history above stays as it is
    return counts


def calendar_busy(
    clinic: Clinic, gen: Generator
) -> dict[tuple[str, dt.date], list[tuple[dt.datetime, dt.datetime]]]:
    """The times the clinic's calendar files book, read as a sync reads them, so that the
    generated calendar and waitlist bookings leave them free (the sync after the build adds
    them). A feed is not fetched here, and a file that cannot be read books nothing: the
    sync then says what is wrong with it."""
    busy: dict[tuple[str, dt.date], list[tuple[dt.datetime, dt.datetime]]] = {}
    start, end = window(clinic, clock.now(), clinic_days(clinic))
    for source in sources_of(clinic):
        if is_feed(source.source):
            continue
        try:
            data = Path(source.source).read_bytes()
            parsed = read_calendar(data, source.label, start, end, clinic.time_zone)
        except (OSError, DomainError):
            continue
        for occurrence in days_of(parsed.occurrences, clinic.time_zone):
            if occurrence.cancelled:
                continue
            day = occurrence.starts_at.astimezone(gen.zone).date()
            busy.setdefault((source.provider_id.hex, day), []).append(
                (
                    occurrence.starts_at.replace(tzinfo=None),
                    occurrence.ends_at.replace(tzinfo=None),
                )
            )
    return busy


def build(entries: int = 600, seed: int = 7, actor: str = "demo") -> dict[str, int]:
    """Replace whatever the database holds with the demo clinic. Returns row counts.

    A SQLite file nobody else has open is built anew beside itself and swapped in
    (demo_file); otherwise (another desk has it open, PostgreSQL, memory) in place, in one
    transaction."""
    if entries < 0:
        raise ValidationError("entries must be 0 or more", field="entries")
    now = clock.now()
    target = database.obj
    if demo_file.swappable(target):
        with demo_file.built_beside(target):
            return _fill(entries, seed, actor, now)
    with bulk_load_mode():
        return _fill(entries, seed, actor, now)


class NotADemo(Conflict):
    """The target database holds real data."""


def holds_todays_demo(target: str, *, refuse_other: bool) -> bool:
    """Whether the open database holds the demo built today, which `demo` keeps (what was
    typed into it stays) instead of building again.

    With `refuse_other` (a database the user named, without --reset), a clinic that no demo
    build wrote is NotADemo: building would replace everything in it."""
    built_on = get_meta(DEMO_BUILT_ON)
    if not has_clinic():
        return False
    if refuse_other and built_on is None:
        raise NotADemo(
            f"{target} holds a clinic that is not the demo; use --reset to "
            "replace everything in it with the demo"
        )
    today = clock.today(get_clinic().time_zone).isoformat()
    return built_on == today and get_meta(DEMO_FINISHED_ON) == today


def mark_finished() -> None:
    """The demo as `demo` builds it is whole (the build, then its stories): keep it today."""
    set_meta(DEMO_FINISHED_ON, clock.today(get_clinic().time_zone).isoformat())
