"""Fill-engine benchmarks for bench.py: candidates for an opening and free slots for an entry.

candidates_ms is measured where every one of the database's entries is waiting (a copy of the
bench database with all entries set to waiting and their ranges over the opening's date), the
worst case the issue names: "candidates for an opening over 100,000 waiting entries". On
PostgreSQL the copy is a database created from the bench's as its template.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from waitlist_tui.domain import clock
from waitlist_tui.domain.fill import matching
from waitlist_tui.domain.fill.availability import find_matching_slots
from waitlist_tui.domain.fill.openings import cancel_appointment
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database, is_postgres_url
from waitlist_tui.domain.store.models import Appointment, Entry, Opening

FILL_TARGETS = {"candidates_ms": 15, "free_slots_ms": 20}  # issue 18, at 1,000,000 entries
# candidates_spread_ms and candidates_none_ms are held to the candidates target too
FILL_TARGET_OF = {"candidates_spread_ms": "candidates_ms", "candidates_none_ms": "candidates_ms"}


def _slots_entry(today: dt.date) -> Entry:
    """A waiting entry with no day or time limits, its range stretched to the full 30 days
    from today (the most work): the bench database is scratch."""
    entry = (
        Entry.select()
        .where(
            Entry.status == "waiting",
            Entry.preferred_days == 0,
            Entry.preferred_time_slots == 0,
            Entry.preferred_time_start.is_null(),
        )
        .order_by(Entry.id)
        .first()
    )
    Entry.update(date_range_start=today, date_range_end=today + dt.timedelta(days=30)).where(
        Entry.id == entry.id
    ).execute()
    return Entry.get_by_id(entry.id)


def bench_free_slots(bench: Any) -> dict[str, Any]:
    from bench import run_figures, stats  # the driver's helpers

    today = clock.today(bench.clinic.time_zone)
    entry = _slots_entry(today)
    op: Callable[[], object] = lambda: find_matching_slots(  # noqa: E731
        entry, today, today + dt.timedelta(days=30), limit=200
    )
    return {"free_slots_ms": stats(run_figures(bench, op))}


def _copy_database(path: str) -> tuple[str, Callable[[], None]]:
    """A scratch copy of the bench database and how to remove it: the SQLite file copied
    beside it, or on PostgreSQL a database made from it as a template (the server copies the
    files; no other session may be connected to it meanwhile)."""
    if not is_postgres_url(path):
        # named for its source: two benches at once (two databases) never share a copy
        copy = str(Path(path).with_name(f"{Path(path).stem}-all-waiting.db"))
        shutil.copyfile(path, copy)
        return copy, lambda: Path(copy).unlink(missing_ok=True)
    import psycopg2

    parsed = urlparse(path)
    source = parsed.path.lstrip("/")
    name = f"{source}_all_waiting"
    admin_url = urlunparse(parsed._replace(path="/postgres"))

    def admin(sql: str) -> None:
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True  # CREATE / DROP DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return urlunparse(parsed._replace(path=f"/{name}")), lambda: admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def bench_candidates(bench: Any) -> dict[str, Any]:
    from bench import run_figures, stats

    database.close()
    copy, remove = _copy_database(bench.path)
    try:
        connect(copy)
        # A client's booking (not a calendar's away block) past the clinic's notice cutoff:
        # its cancellation opens the time.
        appointment = (
            Appointment.select()
            .where(
                Appointment.status == "booked",
                Appointment.away == False,  # noqa: E712  (SQL, not Python)
                Appointment.client.is_null(False),
                Appointment.starts_at > clock.now() + dt.timedelta(days=1),
            )
            .order_by(Appointment.starts_at)
            .first()
        )
        _, opening = cancel_appointment(appointment.id, "bench")
        if opening is None:
            raise SystemExit("bench: cancelling a booking opened no time to match")
        day = opening.starts_at.date()
        with database.atomic():
            Entry.update(
                status="waiting",
                expires_at=None,
                date_range_start=day - dt.timedelta(days=10),
                date_range_end=day + dt.timedelta(days=10),
            ).execute()
        database.execute_sql("ANALYZE")
        waiting = Entry.select().where(Entry.status == "waiting").count()
        fresh = Opening.get_by_id(opening.id)
        figures = run_figures(bench, lambda: matching.candidates(fresh, limit=20))
        return {"candidates_ms": stats(figures), "candidates_waiting_entries": waiting}
    finally:
        database.close()
        remove()
        connect(bench.path)


def bench_candidates_spread(bench: Any) -> dict[str, Any]:
    """The finder's candidates on the bench database as built, where the demo's spread of
    dates, services and preferences makes the matches sparse (the all-waiting copy above
    finds its 20 in the first rows): candidates_spread_ms over the 10 soonest open openings
    from tomorrow on, one after another (their providers' services and days differ, and so
    do their costs: 3-80 ms on PostgreSQL at 430,000 entries); candidates_none_ms for the
    first of them a year later, a day no waiting entry's dates hold (added in a transaction
    that is rolled back)."""
    from bench import run_figures, stats

    openings = list(
        Opening.select()
        .where(Opening.status == "open", Opening.starts_at > clock.now() + dt.timedelta(days=1))
        .order_by(Opening.starts_at)
        .limit(10)
    )
    if not openings:
        raise SystemExit("bench: the database holds no open opening from tomorrow on")
    soon = openings[0]
    turn = itertools.cycle(openings)
    spread = run_figures(bench, lambda: matching.candidates(next(turn), limit=20))
    with database.atomic() as tx:
        far = Opening.get_by_id(soon.id)
        far.id = uuid.uuid4()
        far.starts_at += dt.timedelta(days=364)  # the same weekday and hours
        far.ends_at += dt.timedelta(days=364)
        far.save(force_insert=True)
        none = run_figures(bench, lambda: matching.candidates(far, limit=20))
        tx.rollback()
    return {"candidates_spread_ms": stats(spread), "candidates_none_ms": stats(none)}


FILL_BENCHMARKS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "free_slots": bench_free_slots,
    "candidates": bench_candidates,
    "candidates_spread": bench_candidates_spread,
}
