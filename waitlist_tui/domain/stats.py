"""How well the waitlist fills the calendar: counts, rates, waits and a weekly series.

Everything is computed by SQL aggregates (COUNT/SUM with GROUP BY; medians with ORDER BY ...
LIMIT/OFFSET on SQLite, percentile_cont on PostgreSQL); Python only adds up the few grouped
rows that come back, never one row per entry, and the number of statements does not grow with
the data. SQLite and PostgreSQL give the same figures (the tests hold both to the same exact
values); besides the medians, only the date arithmetic (julianday against date_part) and the
shape of one count (entries added per week) differ. The statements read one snapshot, in a
read transaction that takes no write lock, so no desk waits for the figures.

What is counted, for a period `since`..`until` (clinic dates, both inclusive, read in the
clinic's time zone; None leaves that end open):

- entries by the time they were created (`created_at`); their status is the current one;
- offers by the time they were sent (`sent_at`), openings by the time they were created;
- average wait: from an entry's creation to its booking (`booked_at`), over booked entries;
- days sooner: the client's original appointment (`original_appointment_at`) minus the start
  of the appointment the waitlist booked, over booked entries that had one (negative when the
  booking came later than the original appointment);
- median fill time: from an opening's creation to its filling, over filled openings.

Attribution:

- per service: an entry by the service it asks for; an opening by its own service, and an
  offer by its opening's (an opening typed in without a service, and its offers, count in the
  totals and for the provider but in no service's row). Offers follow their opening rather than
  the entry they went to, so that a service's offers and openings describe the same slots (and
  so that counting them needs one join, not two);
- per provider: an entry only once it is booked, by the provider of the appointment it booked
  (which is the provider of the opening it filled). Waiting, offered, cancelled and expired
  entries have no provider: they count in the totals and per service but in no provider's row,
  so a provider's counts hold booked entries only (and its conversion rate is 100% whenever it
  has any). A booked entry without a linked appointment (imported history) has no provider
  either. Offers and openings count for the provider of the opening.

The `provider` filter restricts every figure to what that provider's rows count, the weekly
series included: booked entries booked with them, offers and openings of their openings.

The weekly series covers the 12 clinic weeks (Monday to Sunday in the clinic's time zone)
ending with the week that holds `until`, or today; `since` does not cut it. Per week: entries
created, entries booked (by `booked_at`), openings filled (by `filled_at`).

Rates are percentages rounded to one decimal, and 0 when their denominator is 0; averages and
medians of nothing are 0 too.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from itertools import pairwise
from typing import Any

import pendulum
from peewee import (
    JOIN,
    SQL,
    Case,
    ColumnBase,
    EnclosedNodeList,
    Expression,
    NodeList,
    Select,
    Value,
    fn,
)

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.clinics import get_clinic
from waitlist_tui.domain.db import database, is_postgres
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.models import Appointment, Clinic, Entry, Offer, Opening, Provider, Service
from waitlist_tui.domain.timeutil import parse_date

WEEKS = 12
OPENING_STATUSES = (vocab.OPENING_OPEN, vocab.OPENING_FILLED, vocab.OPENING_CLOSED)
# Offers that got an answer (or ran out): the acceptance rate's denominator.
ANSWERED = (vocab.OFFER_ACCEPTED, vocab.OFFER_DECLINED, vocab.OFFER_EXPIRED)
ALL = "all"  # the key of the clinic-wide scope among the per-service and per-provider ones

Key = tuple[str, Any]  # (ALL, None) | ("s", service id) | ("p", provider id)


# --- figures ----------------------------------------------------------------------------------


def round1(value: float) -> float:
    """One decimal, halves up. Float noise (julianday differences) is cut first, so that SQLite
    and PostgreSQL round the same value the same way."""
    exact = Decimal(repr(round(float(value), 6)))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> float:
    return round1(100 * part / whole) if whole else 0.0


def mean(total: float, count: int) -> float:
    return round1(total / count) if count else 0.0


@dataclass
class Figures:
    """The figures of one scope: the whole clinic, one service or one provider."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(vocab.ENTRY_STATUSES, 0))
    waited: int = 0  # booked entries with a booked_at
    wait_days: float = 0.0  # their summed waits
    sooner: int = 0  # booked entries with an original appointment
    sooner_days: float = 0.0
    sooner_median: float = 0.0
    offers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(vocab.OFFER_STATUSES, 0))
    openings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPENING_STATUSES, 0))
    fill_median_minutes: float = 0.0

    @property
    def busy(self) -> bool:
        return any(self.counts.values()) or any(self.offers.values()) or any(self.openings.values())

    def to_dict(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        booked = self.counts[vocab.BOOKED]
        offers = sum(self.offers.values())
        answered = sum(self.offers[s] for s in ANSWERED)
        openings = sum(self.openings.values())
        filled = self.openings[vocab.OPENING_FILLED]
        return {
            "counts": dict(self.counts),
            "total": total,
            "active_count": sum(self.counts[s] for s in vocab.ACTIVE_STATUSES),
            "conversion_rate": percent(booked, total),
            "average_wait_days": mean(self.wait_days, self.waited),
            "days_sooner": {
                "count": self.sooner,
                "average": mean(self.sooner_days, self.sooner),
                "median": round1(self.sooner_median),
            },
            "offers": {
                # `sent` is every offer sent in the period, whatever became of it; `pending`
                # the ones still waiting for an answer (status sent).
                "sent": offers,
                "pending": self.offers[vocab.OFFER_SENT],
                "accepted": self.offers[vocab.OFFER_ACCEPTED],
                "declined": self.offers[vocab.OFFER_DECLINED],
                "expired": self.offers[vocab.OFFER_EXPIRED],
                "rescinded": self.offers[vocab.OFFER_RESCINDED],
                "acceptance_rate": percent(self.offers[vocab.OFFER_ACCEPTED], answered),
            },
            "openings": {
                "total": openings,
                **self.openings,
                "fill_rate": percent(filled, openings),
                "median_fill_minutes": round1(self.fill_median_minutes),
            },
        }


@dataclass(frozen=True)
class Week:
    start: dt.date  # a Monday, on the clinic's calendar
    entries_added: int
    entries_booked: int
    openings_filled: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.start.isoformat(),
            "entries_added": self.entries_added,
            "entries_booked": self.entries_booked,
            "openings_filled": self.openings_filled,
        }


@dataclass
class Stats:
    clinic: Clinic
    since: dt.date | None
    until: dt.date | None
    provider: Provider | None
    overall: Figures
    by_service: list[tuple[Service, Figures]]
    by_provider: list[tuple[Provider, Figures]]
    weekly: list[Week]

    def to_dict(self) -> dict[str, Any]:
        return {
            "clinic": self.clinic.code,
            "time_zone": self.clinic.time_zone,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "provider": self.provider.code if self.provider else None,
            **self.overall.to_dict(),
            "by_service": [
                {"service": s.code, "name": s.name, **f.to_dict()} for s, f in self.by_service
            ],
            "by_provider": [
                {"provider": p.code, "name": p.name, **f.to_dict()} for p, f in self.by_provider
            ],
            "weekly": [w.to_dict() for w in self.weekly],
        }


# --- SQL pieces -------------------------------------------------------------------------------


def _days(later: ColumnBase, earlier: ColumnBase) -> ColumnBase:
    """later - earlier in (fractional) days, NULL when either is NULL."""
    if is_postgres():
        return fn.date_part("epoch", later - earlier) / SQL("86400.0")
    return fn.julianday(later) - fn.julianday(earlier)


def _all_of(conds: Iterable[Expression]) -> Expression:
    return reduce(operator.and_, conds)


def _within(column: ColumnBase, lo: dt.datetime | None, hi: dt.datetime | None) -> list[Any]:
    """[lo, hi) on a stored UTC column; open ends are left out."""
    conds = []
    if lo is not None:
        conds.append(column >= lo)
    if hi is not None:
        conds.append(column < hi)
    return conds


def _uid(value: Any) -> Any:
    """Ids as uuid.UUID, whichever form the driver handed back (hex text, str, UUID)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _day_start(day: dt.date, tz: str) -> dt.datetime:
    """The first instant of a clinic date, as the naive UTC the columns store."""
    start = pendulum.datetime(day.year, day.month, day.day, tz=tz).in_tz("UTC")
    return dt.datetime(start.year, start.month, start.day, start.hour, start.minute, start.second)


def _week_of(column: ColumnBase, bounds: list[dt.datetime]) -> Case:
    """The index of the week (between bounds[i] and bounds[i + 1]) a time falls in; NULL
    before the first week, after the last and for NULL. Older times, most rows, leave the CASE
    at its first test."""
    whens = [(column < bounds[0], None)]
    whens += [(column < bound, i) for i, bound in enumerate(bounds[1:])]
    return Case(None, whens)


# --- the queries ------------------------------------------------------------------------------


@dataclass
class _Scope:
    clinic: Clinic
    service_ids: list[Any]
    lo: dt.datetime | None
    hi: dt.datetime | None
    provider: Provider | None
    week_bounds: list[dt.datetime]  # WEEKS + 1 instants: the weekly series' weeks
    keys: list[Key]  # the scopes reported: the clinic, each service, each provider

    def in_period(self, column: ColumnBase) -> Expression | None:
        """A true/false column for `column` in [lo, hi), or None when the period is open."""
        conds = _within(column, self.lo, self.hi)
        return _all_of(conds) if conds else None

    def entries(self) -> list[Any]:
        # The service list implies the clinic, and lets the service index answer the counts.
        return [Entry.service.in_(self.service_ids)]

    def booked(self) -> Any:
        """Booked entries with their appointment (if any), restricted to the provider."""
        join = Appointment.entry == Entry.id
        query = Entry.select()
        if self.provider is None:
            query = query.join(Appointment, JOIN.LEFT_OUTER, on=join)
        else:
            query = query.join(Appointment, on=join).where(Appointment.provider == self.provider)
        return query.where(*self.entries(), Entry.status == vocab.BOOKED)

    def openings(self) -> list[Any]:
        conds = [Opening.clinic == self.clinic]
        if self.provider is not None:
            conds.append(Opening.provider == self.provider)
        return conds


class _Tally:
    """Figures per scope, and the weekly series, filled from grouped rows."""

    def __init__(self) -> None:
        self.figures: dict[Key, Figures] = defaultdict(Figures)
        self.added = [0] * WEEKS
        self.booked = [0] * WEEKS
        self.filled = [0] * WEEKS

    def scopes(self, service_id: Any, provider_id: Any) -> list[Figures]:
        """The clinic's figures, the service's and the provider's (when the row has them)."""
        found = [self.figures[(ALL, None)]]
        if service_id is not None:
            found.append(self.figures[("s", _uid(service_id))])
        if provider_id is not None:
            found.append(self.figures[("p", _uid(provider_id))])
        return found

    def set_medians(self, medians: dict[Key, float], attribute: str) -> None:
        for key, value in medians.items():
            setattr(self.figures[key], attribute, value)


def _entry_counts(scope: _Scope, tally: _Tally) -> None:
    """Entries per service and status (no provider: only booked entries have one)."""
    rows = (
        Entry.select(Entry.service, Entry.status, fn.COUNT(SQL("*")))
        .where(*scope.entries(), *_within(Entry.created_at, scope.lo, scope.hi))
        .group_by(Entry.service, Entry.status)
        .tuples()
    )
    for service_id, status, count in rows:
        for figures in tally.scopes(service_id, None):
            figures.counts[status] = figures.counts.get(status, 0) + count


def _grouped(query: Select, keys: list[Any], values: list[Any]) -> list[tuple]:
    """query grouped by keys (by position: PostgreSQL then accepts CASE expressions with
    parameters), selecting keys + values."""
    positions = [SQL(str(i)) for i in range(1, len(keys) + 1)]
    return list(query.select(*keys, *values).group_by(*positions).tuples())


def _booked(scope: _Scope, tally: _Tally) -> None:
    """Booked entries per service, provider, week of booking (and, for one provider, week of
    creation) and whether they were created in the period: the providers' counts, the waits,
    days sooner, and the weekly series' bookings, which the period does not cut."""
    sooner = _days(Entry.original_appointment_at, Appointment.starts_at)
    in_period = scope.in_period(Entry.created_at)
    added_week = _week_of(Entry.created_at, scope.week_bounds) if scope.provider else None
    keys = [Entry.service, Appointment.provider, _week_of(Entry.booked_at, scope.week_bounds)]
    keys += [key for key in (added_week, in_period) if key is not None]
    values = [
        fn.COUNT(SQL("*")),
        fn.COUNT(Entry.booked_at),
        fn.SUM(_days(Entry.booked_at, Entry.created_at)),
        fn.COUNT(sooner),
        fn.SUM(sooner),
    ]
    for row in _grouped(scope.booked(), keys, values):
        service_id, provider_id, booked_week = row[:3]
        created_week = row[3] if added_week is not None else None
        counted_in_period = row[len(keys) - 1] if in_period is not None else True
        count, waited, wait_days, sooner_n, sooner_days = row[len(keys) :]
        if booked_week is not None:
            tally.booked[int(booked_week)] += count
        if created_week is not None:
            tally.added[int(created_week)] += count
        if not counted_in_period:
            continue
        scopes = tally.scopes(service_id, provider_id)
        # Status counts: the clinic's and the services' come from _entry_counts, unless one
        # provider is asked for (then every scope holds that provider's booked entries only).
        counted = scopes
        if scope.provider is None:
            counted = [tally.figures[("p", _uid(provider_id))]] if provider_id is not None else []
        for figures in counted:
            figures.counts[vocab.BOOKED] += count
        for figures in scopes:
            figures.waited += waited
            figures.wait_days += float(wait_days or 0)
            figures.sooner += sooner_n
            figures.sooner_days += float(sooner_days or 0)


def _entries_added(scope: _Scope, tally: _Tally) -> None:
    """Entries created per week (for one provider, _booked counts them). SQLite answers one
    range count per week from the clinic's queue index, skipping over its priorities, without
    reading a row or sorting; PostgreSQL has no skip scan, and groups one pass instead."""
    bounds = scope.week_bounds
    if is_postgres():
        query = Entry.select().where(
            Entry.clinic == scope.clinic,
            Entry.created_at >= bounds[0],
            Entry.created_at < bounds[-1],
        )
        keys = [_week_of(Entry.created_at, bounds)]
        for week, count in _grouped(query, keys, [fn.COUNT(SQL("*"))]):
            tally.added[int(week)] += count
        return
    weeks = [
        Entry.select(fn.COUNT(SQL("*"))).where(
            Entry.clinic == scope.clinic, Entry.created_at >= lo, Entry.created_at < hi
        )
        for lo, hi in pairwise(bounds)
    ]
    tally.added = [int(count) for count in database.execute(Select(columns=weeks)).fetchone()]


def _offers(scope: _Scope, tally: _Tally) -> None:
    """Offers per status, counted where their opening counts (its service and provider)."""
    keys = [Opening.service, Opening.provider, Offer.status]
    query = Offer.select().join(Opening, on=(Offer.opening == Opening.id)).where(*scope.openings())
    query = query.where(*_within(Offer.sent_at, scope.lo, scope.hi))
    for service_id, provider_id, status, count in _grouped(query, keys, [fn.COUNT(SQL("*"))]):
        for figures in tally.scopes(service_id, provider_id):
            figures.offers[status] = figures.offers.get(status, 0) + count


def _openings(scope: _Scope, tally: _Tally) -> None:
    """Openings per service, provider, status, week of filling and whether they were created
    in the period (the weekly series counts fillings whenever the opening was created)."""
    in_period = scope.in_period(Opening.created_at)
    keys = [Opening.service, Opening.provider, Opening.status]
    keys += [_week_of(Opening.filled_at, scope.week_bounds)]
    keys += [in_period] if in_period is not None else []
    query = Opening.select().where(*scope.openings())
    for service_id, provider_id, status, week, *rest in _grouped(query, keys, [fn.COUNT(SQL("*"))]):
        count = rest[-1]
        if week is not None and status == vocab.OPENING_FILLED:
            tally.filled[int(week)] += count
        if in_period is not None and not rest[0]:
            continue
        for figures in tally.scopes(service_id, provider_id):
            figures.openings[status] = figures.openings.get(status, 0) + count


def _medians(source: Select, keys: list[Key]) -> dict[Key, float]:
    """Medians of `source`'s column v for each scope key: clinic-wide, for a service (column s)
    or for a provider (column p); the mean of the middle two for an even count, on both
    databases. PostgreSQL has percentile_cont over grouping sets; SQLite has neither."""
    if is_postgres():
        return _medians_pg(source, keys)
    return _medians_sqlite(source, keys)


def _medians_pg(source: Select, keys: list[Key]) -> dict[Key, float]:
    """One statement: percentile_cont(0.5) over the grouping sets (), (s) and (p); GROUPING()
    tells the sets apart (3: clinic-wide, 1: per service, 2: per provider)."""
    data = source.alias("d")
    median = NodeList(
        (
            fn.percentile_cont(0.5),
            SQL("WITHIN GROUP"),
            EnclosedNodeList([NodeList((SQL("ORDER BY"), data.c.v))]),
        )
    )
    sets = NodeList(
        (
            SQL("GROUPING SETS"),
            EnclosedNodeList(
                [SQL("()"), EnclosedNodeList([data.c.s]), EnclosedNodeList([data.c.p])]
            ),
        )
    )
    query = Select([data], [fn.GROUPING(data.c.s, data.c.p), data.c.s, data.c.p, median])
    wanted = set(keys)
    found: dict[Key, float] = {}
    for grouping, service_id, provider_id, value in database.execute(query.group_by(sets)):
        key = {3: (ALL, None), 1: ("s", _uid(service_id)), 2: ("p", _uid(provider_id))}[grouping]
        if key in wanted and value is not None:
            found[key] = float(value)
    return found


def _medians_sqlite(source: Select, keys: list[Key]) -> dict[Key, float]:
    """One statement: the rows are read once (a CTE that SQLite materialises, as it is used
    more than once), and each scope takes its middle row, or two, with ORDER BY v
    LIMIT (n + 2) / 2 - (n - 1) / 2 OFFSET (n - 1) / 2, n being counted in the same statement
    so that a row written meanwhile cannot shift it."""
    data = source.cte("d")
    arms = []
    for i, (kind, ident) in enumerate(keys):
        cond = None if kind == ALL else data.c[kind] == ident.hex  # ids are stored as hex

        def rows(*columns: Any, cond: Any = cond) -> Select:
            query = Select([data], list(columns))
            return query if cond is None else query.where(cond)

        count = rows(fn.COUNT(SQL("*")))
        skip = Expression(Expression(count, "-", 1), "/", 2)  # integer division
        take = Expression(Expression(Expression(count, "+", 2), "/", 2), "-", skip)  # 1 or 2
        arm = (
            rows(Value(i).alias("k"), data.c.v.alias("v"))
            .order_by(data.c.v)
            .limit(take)
            .offset(skip)
            .alias(f"m{i}")
        )
        arms.append(Select([arm], [arm.c.k, arm.c.v]))
    values: dict[Key, list[float]] = defaultdict(list)
    for index, value in database.execute(reduce(operator.add, arms).with_cte(data)):
        values[keys[int(index)]].append(float(value))
    return {key: sum(found) / len(found) for key, found in values.items()}


def _sooner_medians(scope: _Scope) -> dict[Key, float]:
    source = (
        scope.booked()
        .select(
            Entry.service.alias("s"),
            Appointment.provider.alias("p"),
            _days(Entry.original_appointment_at, Appointment.starts_at).alias("v"),
        )
        .where(
            Entry.original_appointment_at.is_null(False),
            Appointment.starts_at.is_null(False),
            *_within(Entry.created_at, scope.lo, scope.hi),
        )
    )
    return _medians(source, scope.keys)


def _fill_medians(scope: _Scope) -> dict[Key, float]:
    source = Opening.select(
        Opening.service.alias("s"),
        Opening.provider.alias("p"),
        (_days(Opening.filled_at, Opening.created_at) * 1440).alias("v"),
    ).where(
        *scope.openings(),
        Opening.status == vocab.OPENING_FILLED,
        Opening.filled_at.is_null(False),
        *_within(Opening.created_at, scope.lo, scope.hi),
    )
    return _medians(source, scope.keys)


def _week_starts(last_day: dt.date) -> list[dt.date]:
    """The Mondays of the WEEKS clinic weeks ending with the week of `last_day`."""
    monday = last_day - dt.timedelta(days=last_day.weekday())
    return [monday - dt.timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]


# --- the service ------------------------------------------------------------------------------


def _snapshot() -> AbstractContextManager[Any]:
    """One consistent view for every statement, without blocking a desk: SQLite's default
    write transaction (IMMEDIATE) would take the write lock, a DEFERRED one only reads; on
    PostgreSQL, REPEATABLE READ keeps the first statement's snapshot for the others."""
    if database.in_transaction():
        return nullcontext()
    if is_postgres():
        return database.atomic(isolation_level="REPEATABLE READ")
    return database.atomic(lock_type="DEFERRED")


def _provider(clinic: Clinic, code: Any) -> Provider | None:
    if code is None or str(code).strip() == "":
        return None
    text = str(code).strip()
    found = Provider.get_or_none((Provider.clinic == clinic) & (Provider.code == text.upper()))
    if found is None:
        raise ValidationError(
            f"provider: {text!r} is not a provider of this clinic", field="provider"
        )
    return found


def stats(
    clinic: Clinic | None = None,
    since: dt.date | str | None = None,
    until: dt.date | str | None = None,
    provider: str | None = None,
) -> Stats:
    """The clinic's waitlist figures for entries created since..until (clinic dates, inclusive;
    None = unbounded), optionally for one provider (by code). See the module docstring for
    what each figure counts and how entries are attributed to providers."""
    clinic = clinic or get_clinic()
    since_day = parse_date(since, "since") if since not in (None, "") else None
    until_day = parse_date(until, "until") if until not in (None, "") else None
    if since_day and until_day and since_day > until_day:
        raise ValidationError("until must be on or after since", field="until")
    chosen = _provider(clinic, provider)
    tz = clinic.time_zone
    services = list(Service.select().where(Service.clinic == clinic).order_by(Service.code))
    providers = (
        [chosen]
        if chosen
        else list(Provider.select().where(Provider.clinic == clinic).order_by(Provider.code))
    )
    starts = _week_starts(until_day or clock.today(tz))
    scope = _Scope(
        clinic,
        [s.id for s in services],
        _day_start(since_day, tz) if since_day else None,
        _day_start(until_day + dt.timedelta(days=1), tz) if until_day else None,
        chosen,
        [_day_start(day, tz) for day in [*starts, starts[-1] + dt.timedelta(weeks=1)]],
        [(ALL, None), *(("s", s.id) for s in services), *(("p", p.id) for p in providers)],
    )
    tally = _Tally()
    with _snapshot():
        if services:
            if chosen is None:
                _entry_counts(scope, tally)
                _entries_added(scope, tally)
            _booked(scope, tally)
            tally.set_medians(_sooner_medians(scope), "sooner_median")
        _offers(scope, tally)
        _openings(scope, tally)
        tally.set_medians(_fill_medians(scope), "fill_median_minutes")
    figures = tally.figures
    return Stats(
        clinic=clinic,
        since=since_day,
        until=until_day,
        provider=chosen,
        overall=figures[(ALL, None)],
        by_service=[
            (s, figures.get(("s", s.id), Figures()))
            for s in services
            if s.kind == "appointment" or figures.get(("s", s.id), Figures()).busy
        ],
        by_provider=[(p, figures.get(("p", p.id), Figures())) for p in providers],
        weekly=[
            Week(start, *figures)
            for start, *figures in zip(starts, tally.added, tally.booked, tally.filled, strict=True)
        ],
    )
