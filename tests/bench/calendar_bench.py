"""Calendar sync benchmarks for bench.py: one provider's feed of 5,000 events (200 weekly
series and 4,800 single bookings over the 90-day window, 7,400 occurrences) synced into the
bench database.

- calendar_first_sync_ms: the first sync of the feed (every occurrence added);
- calendar_resync_ms: the same content again in a touched file (read, found to have the
  digest last applied, not parsed: no appointment, opening or audit row written);
- calendar_reparse_ms: the same events in different bytes (parsed, expanded and compared
  row by row, writing nothing; the count is checked);
- calendar_not_modified_ms: a re-sync that the source's validator answers (a feed's 304);
- calendar_cancel_10_ms: a re-sync in which 10 single bookings turned STATUS:CANCELLED: 10
  appointments cancelled, 10 openings, and each opening's candidates ranked.

Each run starts from a source with no rows (the previous run's are deleted first).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock
from waitlist_tui.domain.calendar.sources import SourceSpec
from waitlist_tui.domain.calendar.sync import sync_source
from waitlist_tui.domain.fill.matching import candidates
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    CalendarSource,
    Opening,
    Provider,
)

CALENDAR_TARGETS = {
    "calendar_first_sync_ms": 2000,
    "calendar_resync_ms": 500,
    "calendar_cancel_10_ms": 500,
}
SERIES, SINGLES = 200, 4800


def feed_text(today: dt.date, zone: str, cancelled: int = 0) -> str:
    local = ZoneInfo(zone)
    events = []
    for n in range(SERIES):
        start = dt.datetime.combine(
            today + dt.timedelta(days=1 + n % 7), dt.time(8 + n % 10), local
        )
        events.append(
            f"BEGIN:VEVENT\nUID:series-{n}@bench\nDTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}\n"
            f"DURATION:PT30M\nRRULE:FREQ=WEEKLY;COUNT=13\nSUMMARY:Follow-up {n}\nEND:VEVENT\n"
        )
    for n in range(SINGLES):
        day = today + dt.timedelta(days=1 + n % 88)
        start = dt.datetime.combine(day, dt.time(8 + (n // 88) % 10, 30 * (n % 2)), local)
        status = "STATUS:CANCELLED\n" if n < cancelled else ""
        events.append(
            f"BEGIN:VEVENT\nUID:single-{n}@bench\nDTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}\n"
            f"DURATION:PT30M\nSUMMARY:Assessment {n}\n{status}END:VEVENT\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        + "".join(events).replace("\n", "\r\n")
        + "END:VCALENDAR\r\n"
    )


def _fresh_source(path: Path, provider: Provider) -> CalendarSource:
    for old in CalendarSource.select().where(CalendarSource.source == str(path)):
        Opening.delete().where(
            Opening.appointment.in_(
                Appointment.select(Appointment.id).where(Appointment.calendar_source == old.id)
            )
        ).execute()
        Appointment.delete().where(Appointment.calendar_source == old.id).execute()
        old.delete_instance()
    spec = SourceSpec(str(path), (("follow", "PT-FU"), ("assessment", "PT-EVAL")))
    return CalendarSource.create_by(
        "bench",
        clock.now(),
        provider=provider.id,
        source=str(path),
        label=path.name,
        spec=json.dumps(spec.to_json()),
    )


def bench_calendar(bench: Any) -> dict[str, Any]:
    from bench import stats  # the driver's helpers

    clinic = bench.clinic
    today = clock.today(clinic.time_zone)
    provider = Provider.get(Provider.clinic == clinic, Provider.code == "KIM")
    figures: dict[str, list[float]] = {
        "calendar_first_sync_ms": [],
        "calendar_resync_ms": [],
        "calendar_reparse_ms": [],
        "calendar_not_modified_ms": [],
        "calendar_cancel_10_ms": [],
    }
    with tempfile.TemporaryDirectory(prefix="waitlist-cal-") as tmp:
        path = Path(tmp) / "kim.ics"
        for _ in range(bench.runs):
            path.write_text(feed_text(today, clinic.time_zone))
            source = _fresh_source(path, provider)

            def timed(name: str, source: CalendarSource = source) -> Any:
                start = time.perf_counter()
                result = sync_source(CalendarSource.get_by_id(source.id), "bench")
                figures[name].append((time.perf_counter() - start) * 1000)
                return result

            first = timed("calendar_first_sync_ms")
            assert first.added > 7000, first.to_dict()  # a few 13th weeks fall past day 90
            audits = AuditEvent.select().count()
            path.write_text(feed_text(today, clinic.time_zone))  # touched: a new time, same bytes
            assert timed("calendar_resync_ms").not_modified
            path.write_text(feed_text(today, clinic.time_zone) + "\r\n")  # same events, new bytes
            again = timed("calendar_reparse_ms")
            assert again.unchanged == first.added and AuditEvent.select().count() == audits
            timed("calendar_not_modified_ms")
            path.write_text(feed_text(today, clinic.time_zone, cancelled=10))
            start = time.perf_counter()
            result = sync_source(CalendarSource.get_by_id(source.id), "bench")
            for opening_id in result.opening_ids:
                candidates(Opening.get_by_id(opening_id))
            figures["calendar_cancel_10_ms"].append((time.perf_counter() - start) * 1000)
            assert result.cancelled == 10 and result.openings_created == 10, result.to_dict()
    return {name: stats(values) for name, values in figures.items()}


CALENDAR_BENCHMARKS = {"calendar": bench_calendar}
