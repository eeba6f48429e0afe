"""A booking that the provider's calendar takes back, as the desk meets it in the match
finder: the day view lists the calendar's bookings by title, and the cancelled one is an
open slot whose candidates are ranked at enter. The `tui_db` fixture freezes the clock at
Fri 20 Nov 2026 09:30 in New York; the feed's events are that day."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import STAFF
from tests.domain.calendar.shapes import NY_VTIMEZONE
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_finder import candidate_names, open_finder
from tests.tui.test_triage import waiting
from waitlist_tui.domain.calendar.sources import SourceSpec
from waitlist_tui.domain.calendar.sync import sync_source
from waitlist_tui.domain.errors import Unprocessable
from waitlist_tui.domain.store.models import CalendarSource, Provider

EVENTS = """BEGIN:VEVENT
UID:fu-1@clinic.example
DTSTART;TZID=America/New_York:20261120T110000
DTEND;TZID=America/New_York:20261120T113000
SUMMARY:Follow-up - R. Wang
END:VEVENT
BEGIN:VEVENT
UID:eval-1@clinic.example
DTSTART;TZID=America/New_York:20261120T120000
DTEND;TZID=America/New_York:20261120T130000
SUMMARY:Assessment - T. Nowak
{status}END:VEVENT
"""


def calendar_with_a_cancellation(tmp_path: Path) -> None:
    path = tmp_path / "kim.ics"

    def write(status: str) -> None:
        body = EVENTS.format(status=status)
        path.write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\n{NY_VTIMEZONE}{body}END:VCALENDAR\n")

    write("")
    spec = SourceSpec(str(path), (("follow", "PT-FU"), ("assessment", "PT-EVAL")))
    source = CalendarSource.create_by(
        STAFF,
        dt.datetime(2026, 11, 20, 14, tzinfo=dt.UTC),
        provider=Provider.get(Provider.code == "KIM").id,
        source=str(path),
        label="kim.ics",
        spec=json.dumps(spec.to_json()),
    )
    assert sync_source(source, STAFF).added == 2
    write("STATUS:CANCELLED\n")
    path.write_text(path.read_text() + "\n")  # a new size: read again
    assert sync_source(CalendarSource.get_by_id(source.id), STAFF).openings_created == 1


async def to_the_cancelled_assessment(pilot) -> None:
    await open_finder(pilot)
    await pilot.press("down", "enter")  # from the next booking (11:00) to the 12:00 one
    await settle(pilot)


def test_a_calendar_cancellation_is_an_open_slot_with_candidates(clinic, tmp_path) -> None:
    """Both backends (through `clinic`)."""
    import asyncio

    waiting("Ann", "Lee", "617-555-0101", priority=1, date_range_start="2026-11-20")
    calendar_with_a_cancellation(tmp_path)
    app = make_test_app()

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await to_the_cancelled_assessment(pilot)
            assert candidate_names(app) == ["Ann Lee"]

    asyncio.run(run())


def test_finder_with_an_opening_from_the_calendar_snapshot(
    clinic_only_db, tmp_path, snap_compare
) -> None:
    waiting("Ann", "Lee", "617-555-0101", priority=1, date_range_start="2026-11-20")
    calendar_with_a_cancellation(tmp_path)
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=to_the_cancelled_assessment)


def test_the_finder_warns_when_a_calendar_failed(clinic_only_db, tmp_path) -> None:
    import asyncio

    from textual.widgets import Static

    calendar_with_a_cancellation(tmp_path)
    (tmp_path / "kim.ics").write_text("not a calendar")
    source = CalendarSource.get()
    with pytest.raises(Unprocessable):  # recorded on the source: what the desk is told
        sync_source(source, STAFF)
    app = make_test_app()

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await open_finder(pilot)
            title = str(app.screen.query_one("#calendar-title", Static).render())
            assert "· KIM calendar failed: calendar " in title
            assert "kim.ics: is not iCalendar" in title

    asyncio.run(run())
