"""Syncing a provider's calendar into appointments: added, unchanged (writing nothing),
moved, cancelled and gone occurrences, each cancellation's time an opening with candidates,
and the waitlist's own bookings untouched. Both backends. The `frozen` fixture (through `db`)
holds the clock at Fri 20 Nov 2026 09:30 in New York; the feed's dates follow it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import STAFF
from tests.domain.calendar.shapes import NY_VTIMEZONE
from tests.domain.fill_helpers import add_entry, book_appointment
from waitlist_tui.domain import vocab
from waitlist_tui.domain.calendar.sources import SourceSpec
from waitlist_tui.domain.calendar.sync import sync_source
from waitlist_tui.domain.errors import Unprocessable
from waitlist_tui.domain.fill.matching import candidates
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    CalendarSource,
    Clinic,
    Opening,
    Provider,
)

SERIES = """BEGIN:VEVENT
UID:series-1@example.com
DTSTART;TZID=America/New_York:20261123T090000
DTEND;TZID=America/New_York:20261123T093000
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Follow-up - Ann
END:VEVENT
"""
MEETING = """BEGIN:VEVENT
UID:meeting-1@example.com
DTSTART;TZID=America/New_York:20261124T100000
DTEND;TZID=America/New_York:20261124T110000
SUMMARY:Team meeting
END:VEVENT
"""
AWAY = """BEGIN:VEVENT
UID:away-1@example.com
DTSTART;VALUE=DATE:20261125
DTEND;VALUE=DATE:20261126
SUMMARY:Conference
END:VEVENT
"""
CANCEL_30TH = """BEGIN:VEVENT
UID:series-1@example.com
RECURRENCE-ID;TZID=America/New_York:20261130T090000
DTSTART;TZID=America/New_York:20261130T090000
DTEND;TZID=America/New_York:20261130T093000
STATUS:CANCELLED
SUMMARY:Follow-up - Ann
END:VEVENT
"""
MOVE_7TH = """BEGIN:VEVENT
UID:series-1@example.com
RECURRENCE-ID;TZID=America/New_York:20261207T090000
DTSTART;TZID=America/New_York:20261207T110000
DTEND;TZID=America/New_York:20261207T113000
SUMMARY:Follow-up - Ann
END:VEVENT
"""


def feed(*events: str) -> str:
    return f"BEGIN:VCALENDAR\nVERSION:2.0\n{NY_VTIMEZONE}{''.join(events)}END:VCALENDAR\n"


@pytest.fixture
def source(clinic: Clinic, tmp_path: Path) -> CalendarSource:
    path = tmp_path / "kim.ics"
    path.write_text(feed(SERIES, MEETING, AWAY))
    kim = Provider.get(Provider.code == "KIM")
    spec = SourceSpec(str(path), (("follow", "PT-FU"),))
    return CalendarSource.create_by(
        STAFF,
        dt.datetime.now(dt.UTC),
        provider=kim.id,
        source=str(path),
        label="kim.ics",
        spec=json.dumps(spec.to_json()),
    )


def rewrite(source: CalendarSource, text: str) -> None:
    """A new version of the file (a new size or time: the sync reads it again)."""
    Path(source.source).write_text(text + "\n")


def counts(result) -> tuple[int, int, int, int, int]:
    return (
        result.added,
        result.updated,
        result.cancelled,
        result.unchanged,
        result.openings_created,
    )


def booked_from_feed() -> list[tuple[dt.datetime, str | None, bool]]:
    rows = Appointment.select().where(
        Appointment.calendar_source.is_null(False), Appointment.status == vocab.APPT_BOOKED
    )
    return sorted((a.starts_at, a.service.code if a.service_id else None, a.away) for a in rows)


def test_first_sync_adds_every_occurrence(source: CalendarSource) -> None:
    result = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert counts(result) == (6, 0, 0, 0, 0)
    utc = dt.UTC
    assert booked_from_feed() == [
        (dt.datetime(2026, 11, 23, 14, tzinfo=utc), "PT-FU", False),
        (dt.datetime(2026, 11, 24, 15, tzinfo=utc), None, False),  # no rule: unknown service
        (dt.datetime(2026, 11, 25, 5, tzinfo=utc), None, True),  # the day away
        (dt.datetime(2026, 11, 30, 14, tzinfo=utc), "PT-FU", False),
        (dt.datetime(2026, 12, 7, 14, tzinfo=utc), "PT-FU", False),
        (dt.datetime(2026, 12, 14, 14, tzinfo=utc), "PT-FU", False),
    ]
    row = CalendarSource.get_by_id(source.id)
    assert row.synced_at is not None and row.error is None and row.tag


def test_a_second_sync_of_the_same_source_writes_nothing(source: CalendarSource) -> None:
    sync_source(CalendarSource.get_by_id(source.id), STAFF)
    audits = AuditEvent.select().count()
    again = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert again.not_modified and counts(again) == (0, 0, 0, 0, 0)
    # the same content in a touched file is read, and compares equal row by row
    rewrite(source, feed(SERIES, MEETING, AWAY))
    reread = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert counts(reread) == (0, 0, 0, 6, 0) and not reread.not_modified
    assert AuditEvent.select().count() == audits


def test_moved_cancelled_and_gone_occurrences(source: CalendarSource) -> None:
    sync_source(CalendarSource.get_by_id(source.id), STAFF)
    waiting = add_entry("Wren", service="PT-FU")
    ours = book_appointment("KIM", "2026-12-01T14:00:00Z")  # the waitlist's own booking
    rewrite(source, feed(SERIES, CANCEL_30TH, MOVE_7TH))  # the meeting and the day away gone
    result = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    # moved: Dec 7; cancelled: Nov 30, the meeting, the day away; unchanged: Nov 23, Dec 14
    assert counts(result) == (0, 1, 3, 2, 2)
    moved = Appointment.get(
        Appointment.calendar_key == "series-1@example.com|2026-12-07T14:00:00+00:00"
    )
    assert moved.starts_at == dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC) and moved.version == 2
    opened = sorted(Opening.select(), key=lambda o: o.starts_at)
    assert [o.starts_at for o in opened] == [
        dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC),  # the meeting's hour
        dt.datetime(2026, 11, 30, 14, tzinfo=dt.UTC),  # no opening for the day away
    ]
    assert all(o.source == "cancellation" for o in opened)
    # each opening has its candidates ranked already: the waiting PT-FU entry fits Nov 30
    ranked = candidates(opened[1])
    assert [c.entry_id for c in ranked.items] == [waiting.id]
    assert Appointment.get_by_id(ours.id).status == vocab.APPT_BOOKED  # untouched


def test_a_failed_sync_changes_nothing_and_is_recorded(source: CalendarSource) -> None:
    sync_source(CalendarSource.get_by_id(source.id), STAFF)
    before = booked_from_feed()
    rewrite(source, feed(SERIES, "BEGIN:VEVENT\nUID:broken\nSUMMARY:no start\nEND:VEVENT\n"))
    with pytest.raises(Unprocessable, match="kim.ics: an event has no DTSTART"):
        sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert booked_from_feed() == before
    row = CalendarSource.get_by_id(source.id)
    assert row.failed_at is not None and "no DTSTART" in row.error


def test_a_week_away_is_one_row_per_day(source: CalendarSource) -> None:
    """A multi-day away event blocks each day on its own row (the clocks go back on Sun 1
    Nov: that day is 25 hours)."""
    rewrite(
        source,
        feed(
            "BEGIN:VEVENT\nUID:leave@example.com\nDTSTART;VALUE=DATE:20261130\n"
            "DTEND;VALUE=DATE:20261203\nSUMMARY:Annual leave\nEND:VEVENT\n"
        ),
    )
    assert sync_source(CalendarSource.get_by_id(source.id), STAFF).added == 3
    days = booked_from_feed()
    assert [(start.day, away) for start, _, away in days] == [(30, True), (1, True), (2, True)]
    assert sync_source(CalendarSource.get_by_id(source.id), STAFF).not_modified


def test_a_cancelled_occurrence_never_seen_is_skipped_with_its_reason(
    source: CalendarSource,
) -> None:
    rewrite(source, feed(SERIES, CANCEL_30TH))
    result = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert counts(result) == (3, 0, 0, 0, 0)
    assert result.skipped == {"cancelled before it was first synced": 1}


def test_the_desk_is_told_when_calendars_fail_or_go_stale(source: CalendarSource) -> None:
    from tests.timetravel import move_to
    from waitlist_tui.domain import clock
    from waitlist_tui.domain.calendar.freshness import freshness
    from waitlist_tui.domain.calendar.sync import sync_if_due

    clinic = Clinic.get()
    assert freshness(clinic, clock.now()) == ("calendar not synced for over 1 h: KIM", True)
    assert sync_if_due(clinic, STAFF)["synced"][0]["added"] == 6  # never tried: due
    assert freshness(clinic, clock.now()) == ("calendars synced 09:30", False)
    assert sync_if_due(clinic, STAFF) is None  # tried a moment ago: not due
    move_to(clock.now() + dt.timedelta(minutes=16))  # past the clinic's 15 minutes
    rewrite(source, "not a calendar")
    outcome = sync_if_due(clinic, STAFF)
    assert outcome["failed"][0]["error"].endswith(
        "is not iCalendar (it does not begin with BEGIN:VCALENDAR)"
    )
    words, warning = freshness(clinic, clock.now())
    assert warning and words.startswith("KIM calendar failed: calendar ")
    assert "kim.ics: is not iCalendar" in words


def test_auto_offer_sends_a_freed_time_by_the_clinics_workflow(source: CalendarSource) -> None:
    """With `[calendar] auto_offer`, the opening a calendar frees goes to the best candidate
    at once (the demo clinic's workflow is SEQUENTIAL); without it, it waits for the desk."""
    from waitlist_tui.domain.store.models import Offer

    clinic = Clinic.get()
    settings = dict(clinic.settings or {})
    settings["calendar"] = {"days_ahead": 90, "sync_minutes": 15, "auto_offer": True}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    sync_source(CalendarSource.get_by_id(source.id), STAFF)
    waiting = add_entry("Wren", service="PT-FU")
    rewrite(source, feed(SERIES, MEETING, AWAY, CANCEL_30TH))
    result = sync_source(CalendarSource.get_by_id(source.id), STAFF)
    assert (result.openings_created, result.offers_sent) == (1, 1)
    (offer,) = Offer.select()
    assert offer.entry_id == waiting.id and offer.status == "sent"
