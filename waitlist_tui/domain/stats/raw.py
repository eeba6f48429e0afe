"""Stats straight from the raw tables, by SQL aggregates: the oracle the rollups are held to
(tests compare both on every kind of history) and the fallback when a period's bounds do not
fall on a quarter hour of UTC.

COUNT/SUM with GROUP BY; medians with ORDER BY ... LIMIT/OFFSET on SQLite, percentile_cont on
PostgreSQL. Python only adds up the few grouped rows that come back, never one row per entry,
and the number of statements does not grow with the data; but every call reads the whole
history (seconds at a million entries).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Iterable
from functools import reduce
from itertools import pairwise
from typing import Any

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

from waitlist_tui.domain import vocab
from waitlist_tui.domain.stats.figures import ALL, Key, Scope, Tally, uid
from waitlist_tui.domain.store.db import database, is_postgres, tuple_rows
from waitlist_tui.domain.store.models import Appointment, Entry, Offer, Opening


def collect(scope: Scope, tally: Tally) -> None:
    """Every figure of `scope` into `tally`, from the raw tables."""
    if scope.service_ids:
        if scope.provider is None:
            _entry_counts(scope, tally)
            _entries_added(scope, tally)
        _booked(scope, tally)
        tally.set_medians(_sooner_medians(scope), "sooner_median")
    _offers(scope, tally)
    _openings(scope, tally)
    tally.set_medians(_fill_medians(scope), "fill_median_minutes")


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


def _week_of(column: ColumnBase, bounds: list[dt.datetime]) -> Case:
    """The index of the week (between bounds[i] and bounds[i + 1]) a time falls in; NULL
    before the first week, after the last and for NULL. Older times, most rows, leave the CASE
    at its first test."""
    whens: list[tuple[Expression, int | None]] = [(column < bounds[0], None)]
    whens += [(column < bound, i) for i, bound in enumerate(bounds[1:])]
    return Case(None, whens)


def _in_period(scope: Scope, column: ColumnBase) -> Expression | None:
    """A true/false column for `column` in [lo, hi), or None when the period is open."""
    conds = _within(column, scope.lo, scope.hi)
    return _all_of(conds) if conds else None


def _entries(scope: Scope) -> list[Any]:
    # The service list implies the clinic, and lets the service index answer the counts.
    return [Entry.service.in_(scope.service_ids)]


def _booked_query(scope: Scope) -> Any:
    """Booked entries with their appointment (if any), restricted to the provider."""
    join = Appointment.entry == Entry.id
    query = Entry.select()
    if scope.provider is None:
        query = query.join(Appointment, JOIN.LEFT_OUTER, on=join)
    else:
        query = query.join(Appointment, on=join).where(Appointment.provider == scope.provider)
    return query.where(*_entries(scope), Entry.status == vocab.BOOKED)


def _opening_conds(scope: Scope) -> list[Any]:
    conds = [Opening.clinic == scope.clinic]
    if scope.provider is not None:
        conds.append(Opening.provider == scope.provider)
    return conds


# --- the queries ------------------------------------------------------------------------------


def _entry_counts(scope: Scope, tally: Tally) -> None:
    """Entries per service and status (no provider: only booked entries have one)."""
    rows = tuple_rows(
        Entry.select(Entry.service, Entry.status, fn.COUNT(SQL("*")))
        .where(*_entries(scope), *_within(Entry.created_at, scope.lo, scope.hi))
        .group_by(Entry.service, Entry.status)
    )
    for service_id, status, count in rows:
        tally.add_entries(service_id, status, count)


def _grouped(query: Select, keys: list[Any], values: list[Any]) -> list[tuple[Any, ...]]:
    """query grouped by keys (by position: PostgreSQL then accepts CASE expressions with
    parameters), selecting keys + values."""
    positions = [SQL(str(i)) for i in range(1, len(keys) + 1)]
    return list(query.select(*keys, *values).group_by(*positions).tuples())


def _booked(scope: Scope, tally: Tally) -> None:
    """Booked entries per service, provider, week of booking (and, for one provider, week of
    creation) and whether they were created in the period: the providers' counts, the waits,
    days sooner, and the weekly series' bookings, which the period does not cut."""
    sooner = _days(Entry.original_appointment_at, Appointment.starts_at)
    in_period = _in_period(scope, Entry.created_at)
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
    for row in _grouped(_booked_query(scope), keys, values):
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
        tally.add_booked(
            service_id,
            provider_id,
            count,
            waited,
            float(wait_days or 0),
            sooner_n,
            float(sooner_days or 0),
        )


def _entries_added(scope: Scope, tally: Tally) -> None:
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


def _offers(scope: Scope, tally: Tally) -> None:
    """Offers per status, counted where their opening counts (its service and provider)."""
    keys = [Opening.service, Opening.provider, Offer.status]
    query = Offer.select().join(Opening, on=(Offer.opening == Opening.id))
    query = query.where(*_opening_conds(scope))
    query = query.where(*_within(Offer.sent_at, scope.lo, scope.hi))
    for service_id, provider_id, status, count in _grouped(query, keys, [fn.COUNT(SQL("*"))]):
        tally.add_offers(service_id, provider_id, status, count)


def _openings(scope: Scope, tally: Tally) -> None:
    """Openings per service, provider, status, week of filling and whether they were created
    in the period (the weekly series counts fillings whenever the opening was created)."""
    in_period = _in_period(scope, Opening.created_at)
    keys = [Opening.service, Opening.provider, Opening.status]
    keys += [_week_of(Opening.filled_at, scope.week_bounds)]
    keys += [in_period] if in_period is not None else []
    query = Opening.select().where(*_opening_conds(scope))
    for service_id, provider_id, status, week, *rest in _grouped(query, keys, [fn.COUNT(SQL("*"))]):
        count = rest[-1]
        if week is not None and status == vocab.OPENING_FILLED:
            tally.filled[int(week)] += count
        if in_period is not None and not rest[0]:
            continue
        tally.add_openings(service_id, provider_id, status, count)


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
        key = {3: (ALL, None), 1: ("s", uid(service_id)), 2: ("p", uid(provider_id))}[grouping]
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


def _sooner_medians(scope: Scope) -> dict[Key, float]:
    source = (
        _booked_query(scope)
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


def _fill_medians(scope: Scope) -> dict[Key, float]:
    source = Opening.select(
        Opening.service.alias("s"),
        Opening.provider.alias("p"),
        (_days(Opening.filled_at, Opening.created_at) * 1440).alias("v"),
    ).where(
        *_opening_conds(scope),
        Opening.status == vocab.OPENING_FILLED,
        Opening.filled_at.is_null(False),
        *_within(Opening.created_at, scope.lo, scope.hi),
    )
    return _medians(source, scope.keys)
