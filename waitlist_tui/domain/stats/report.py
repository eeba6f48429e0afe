"""How well the waitlist fills the calendar: counts, rates, waits and a weekly series.

The figures are read from rollups that database triggers keep on every write
(domain/store/rollups.py: counts and sums per 15-minute and per day bucket, and each median value
with an order-keeping bin), so a call reads a few thousand rollup rows and a few dozen values,
whatever the history (about 0.1 s at a million entries, where the raw pass took 8 s). The raw
computation (domain/stats/raw.py: SQL aggregates over the tables) stays as the oracle,
`source="raw"`, and the tests hold the two to the same figures on both databases, which give
the same figures as each other. Either way the statements read one snapshot, in a read
transaction that takes no write lock, so no desk waits for the figures.

Why the two sources agree: counts are whole numbers either way, and they count the same rows
(a period is whole UTC days and the 15-minute rows at its two ends; its bounds are the same
instants); a median is picked among the very doubles the raw query computes (each stored once
per row, from the same expression) and the middle two are combined as the raw query does
(their mean on SQLite, percentile_cont's interpolation on PostgreSQL); waits and days sooner
are summed as exact integers (ms on SQLite, julianday's resolution; µs on PostgreSQL) where
the raw query adds doubles, and the two sums differ by float noise (about 1e-9 of a day),
which the 6-decimal cut round1 makes before rounding removes, unless the exact mean lies
within that noise of the one edge that matters (x.x499995 days, a spot 0.2 ms wide): about
one figure in ten million by chance, never for times on whole seconds below 625 rows (the
raw query itself then rounds by its float noise). A rollup read needs period and week bounds
on a quarter hour of UTC, true of every clinic day in every time zone in use today; other
bounds (local mean time, before ~1900 in most zones) read raw.

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
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal

import pendulum

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.stats import from_rollups as stats_rollup
from waitlist_tui.domain.stats import raw as stats_raw
from waitlist_tui.domain.stats.figures import (
    ALL,
    WEEKS,
    Figures,
    Scope,
    Stats,
    Tally,
    Week,
    mean,
    percent,
    round1,
)
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import Clinic, Provider, Service
from waitlist_tui.domain.timeutil import parse_date

__all__ = [
    "PERIODS",
    "Figures",
    "Stats",
    "Week",
    "mean",
    "percent",
    "period_bounds",
    "round1",
    "stats",
]

Source = Literal["rollup", "raw"]

# The dashboard's periods: name -> label. Each ends today (clinic date) and starts on...
PERIODS = {"week": "This week", "30d": "30 days", "90d": "90 days", "year": "Year"}


def weekly_caption(provider: str | None) -> str:
    """The weekly series' title: under a provider filter its "added" counts only entries
    later booked with that provider, which a bare "Last 12 weeks" hid from the manager."""
    if not provider:
        return "Last 12 weeks, by each week's Monday"
    return f"Last 12 weeks, {provider} only: entries booked with them, their openings filled"


def period_bounds(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """since..until (clinic dates, inclusive) of a named period ending today: `week` from this
    week's Monday, `30d` and `90d` the last 30 and 90 days, `year` the last 365 days."""
    if period == "week":
        return today - dt.timedelta(days=today.weekday()), today
    days = {"30d": 30, "90d": 90, "year": 365}.get(period)
    if days is None:
        raise ValidationError(f"period must be one of {', '.join(PERIODS)}", field="period")
    return today - dt.timedelta(days=days - 1), today


def _day_start(day: dt.date, tz: str) -> dt.datetime:
    """The first instant of a clinic date, as the naive UTC the columns store."""
    start = pendulum.datetime(day.year, day.month, day.day, tz=tz).in_tz("UTC")
    return dt.datetime(start.year, start.month, start.day, start.hour, start.minute, start.second)


def _week_starts(last_day: dt.date) -> list[dt.date]:
    """The Mondays of the WEEKS clinic weeks ending with the week of `last_day`."""
    monday = last_day - dt.timedelta(days=last_day.weekday())
    return [monday - dt.timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]


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
    source: Source = "rollup",
) -> Stats:
    """The clinic's waitlist figures for entries created since..until (clinic dates, inclusive;
    None = unbounded), optionally for one provider (by code). See the module docstring for
    what each figure counts and how entries are attributed to providers. `source="raw"`
    computes them from the tables instead of the rollups (the oracle; slow at scale)."""
    if source not in ("rollup", "raw"):
        raise ValidationError("source must be rollup or raw", field="source")
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
    scope = Scope(
        clinic,
        [s.id for s in services],
        _day_start(since_day, tz) if since_day else None,
        _day_start(until_day + dt.timedelta(days=1), tz) if until_day else None,
        chosen,
        [_day_start(day, tz) for day in [*starts, starts[-1] + dt.timedelta(weeks=1)]],
        [(ALL, None), *(("s", s.id) for s in services), *(("p", p.id) for p in providers)],
    )
    tally = Tally(chosen)
    with _snapshot():
        if source == "rollup" and stats_rollup.readable(scope):
            stats_rollup.collect(scope, tally)
        else:
            stats_raw.collect(scope, tally)
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
