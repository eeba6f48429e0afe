"""Fill-engine benchmarks for bench.py: candidates for an opening and free slots for an entry.

candidates_ms is measured where every one of the database's entries is waiting (a copy of the
bench database with all entries set to waiting and their ranges over the opening's date), the
worst case the issue names: "candidates for an opening over 100,000 waiting entries".
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.fill import matching
from waitlist_tui.domain.fill.availability import find_matching_slots
from waitlist_tui.domain.fill.openings import cancel_appointment
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Appointment, Entry, Opening

FILL_TARGETS = {"candidates_ms": 10, "free_slots_ms": 20}


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


def bench_candidates(bench: Any) -> dict[str, Any]:
    from bench import run_figures, stats

    copy = str(Path(bench.path).with_name("all-waiting.db"))
    database.close()
    shutil.copyfile(bench.path, copy)
    try:
        connect(copy)
        appointment = (
            Appointment.select()
            .where(Appointment.status == "booked", Appointment.starts_at > clock.now())
            .order_by(Appointment.starts_at)
            .first()
        )
        _, opening = cancel_appointment(appointment.id, "bench")
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
        Path(copy).unlink(missing_ok=True)
        connect(bench.path)


FILL_BENCHMARKS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "free_slots": bench_free_slots,
    "candidates": bench_candidates,
}
