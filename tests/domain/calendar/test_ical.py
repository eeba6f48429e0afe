"""Reading iCalendar sources: the shapes calendar programs export, checked against occurrences
listed by hand (and a generated feed against dateutil's rrule), and every kind of bad source
refused with the source and the event named. (Fixed dates; reads no clock.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule

from tests.domain.calendar import shapes
from waitlist_tui.domain.calendar.ical import MAX_BYTES, read_calendar
from waitlist_tui.domain.errors import Unprocessable

ZONE = "America/New_York"
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
END = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def read(text: str, start: dt.datetime = START, end: dt.datetime = END):
    return read_calendar(text.replace("\n", "\r\n").encode(), "test.ics", start, end, ZONE)


def times(parsed) -> list[tuple[dt.datetime, dt.datetime, bool]]:
    return sorted((o.starts_at, o.ends_at, o.cancelled) for o in parsed.occurrences)


def test_google_series_with_exdate_moved_and_cancelled_instances_across_dst() -> None:
    parsed = read(shapes.GOOGLE)
    minutes = dt.timedelta(minutes=45)
    assert times(parsed) == [
        (utc(2026, 10, 26, 13), utc(2026, 10, 26, 13) + minutes, False),
        (utc(2026, 11, 2, 14), utc(2026, 11, 2, 14) + minutes, True),
        (utc(2026, 11, 3, 15), utc(2026, 11, 3, 16), False),
        (utc(2026, 11, 16, 19), utc(2026, 11, 16, 19) + minutes, False),
        (utc(2026, 11, 23, 14), utc(2026, 11, 23, 14) + minutes, False),
    ]
    moved = next(o for o in parsed.occurrences if o.starts_at == utc(2026, 11, 16, 19))
    # the moved instance keeps the key of the slot it came from: a sync updates it
    assert moved.key == "5k2v0rr1h3m8@google.com|2026-11-16T14:00:00+00:00"
    assert moved.summary == "Sports massage - R. Wang (moved)" and moved.sequence == 3
    single = next(o for o in parsed.occurrences if o.uid == "1abc9xyz@google.com")
    assert single.recurrence_id == ""  # a single event is keyed by its UID alone


def test_outlook_windows_zone_all_day_and_free_time() -> None:
    parsed = read(shapes.OUTLOOK)
    half = dt.timedelta(minutes=30)
    assert times(parsed) == [
        (utc(2026, 10, 28, 14), utc(2026, 10, 28, 14) + half, False),
        (utc(2026, 11, 4, 15), utc(2026, 11, 4, 15) + half, False),
        (utc(2026, 11, 6, 5), utc(2026, 11, 7, 5), False),
        (utc(2026, 11, 11, 15), utc(2026, 11, 11, 15) + half, False),
    ]
    away = next(o for o in parsed.occurrences if o.all_day)
    assert away.summary == "Out of office"
    assert parsed.skipped == {"marked free (TRANSP:TRANSPARENT)": 1}


def test_apple_rdate_and_utc_times() -> None:
    half = dt.timedelta(minutes=30)
    assert times(read(shapes.APPLE)) == [
        (utc(2026, 10, 29, 15), utc(2026, 10, 29, 15) + half, False),
        (utc(2026, 11, 5, 16), utc(2026, 11, 5, 16) + half, False),
        (utc(2026, 11, 10, 20), utc(2026, 11, 10, 21), False),
        (utc(2026, 11, 12, 16), utc(2026, 11, 12, 16) + half, False),
        (utc(2026, 11, 26, 16), utc(2026, 11, 26, 16) + half, False),
    ]


def test_thunderbird_daily_series_over_the_clock_change_and_categories() -> None:
    parsed = read(shapes.THUNDERBIRD)
    assert [o.starts_at for o in sorted(parsed.occurrences, key=lambda o: o.starts_at)] == [
        utc(2026, 10, 30, 12),
        utc(2026, 10, 31, 12),
        utc(2026, 11, 1, 13),
        utc(2026, 11, 2, 13),
    ]
    assert {o.categories for o in parsed.occurrences} == {("PT-FU", "Clinic")}


def test_nextcloud_floating_time_duration_and_a_zone_without_vtimezone() -> None:
    assert times(read(shapes.NEXTCLOUD)) == [
        (utc(2026, 11, 4, 14), utc(2026, 11, 4, 14, 45), False),
        (utc(2026, 11, 4, 17), utc(2026, 11, 4, 18), False),
    ]


def test_only_the_window_is_expanded() -> None:
    parsed = read(shapes.GOOGLE, utc(2026, 11, 10), utc(2026, 11, 20))
    assert [o.starts_at for o in parsed.occurrences] == [utc(2026, 11, 16, 19)]


def test_a_generated_feed_matches_dateutils_expansion() -> None:
    """200 weekly series at different hours, each expanded by dateutil's rrule on its own."""
    zone = ZoneInfo(ZONE)
    events, expected = [], set()
    for n in range(200):
        first = dt.datetime(2026, 9, 7 + n % 7, 8 + n % 9, 15 * (n % 4), tzinfo=zone)
        events.append(
            f"BEGIN:VEVENT\nUID:series-{n}\nDTSTART;TZID={ZONE}:{first:%Y%m%dT%H%M%S}\n"
            f"DURATION:PT30M\nRRULE:FREQ=WEEKLY;COUNT={5 + n % 20}\nEND:VEVENT\n"
        )
        for when in rrule(WEEKLY, dtstart=first, count=5 + n % 20):
            if START <= when.astimezone(dt.UTC) < END:
                expected.add((f"series-{n}", when.astimezone(dt.UTC)))
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\n{shapes.NY_VTIMEZONE}{''.join(events)}END:VCALENDAR\n"
    parsed = read(text)
    assert {(o.uid, o.starts_at) for o in parsed.occurrences} == expected
    assert len(parsed.occurrences) == len(expected) > 1000


EVENT = "BEGIN:VEVENT\nUID:{uid}\n{body}END:VEVENT\n"


def calendar(*events: str) -> str:
    return "BEGIN:VCALENDAR\nVERSION:2.0\n" + "".join(events) + "END:VCALENDAR\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not a calendar at all", "is not iCalendar"),
        ("BEGIN:VCALENDAR\nVERSION:2.0\nthis line is broken\nEND:VCALENDAR\n", "cannot be parsed"),
        (
            calendar(EVENT.format(uid="nostart", body="SUMMARY:x\n")),
            "no DTSTART (UID nostart, line 3)",
        ),
        (
            calendar("BEGIN:VEVENT\nDTSTART:20261102T100000Z\nEND:VEVENT\n"),
            "an event has no UID (line 3)",
        ),
        (
            calendar(
                EVENT.format(uid="ok", body="DTSTART:20261102T100000Z\n"),
                EVENT.format(uid="back", body="DTSTART:20261102T100000Z\nDTEND:20261102T090000Z\n"),
            ),
            "DTEND is before DTSTART (UID back, line 7)",
        ),
        (
            calendar(EVENT.format(uid="mars", body="DTSTART;TZID=Mars/Olympus:20261102T090000\n")),
            "unknown time zone 'Mars/Olympus' (UID mars",
        ),
        (
            calendar(
                EVENT.format(uid="fast", body="DTSTART:20261102T100000Z\nRRULE:FREQ=SECONDLY\n")
            ),
            "FREQ=SECONDLY repeats more often than daily (UID fast",
        ),
        (
            calendar(EVENT.format(uid="bad", body="DTSTART:2026110\n")),
            "DTSTART cannot be read (UID bad",
        ),
    ],
)
def test_bad_sources_are_refused_naming_source_and_event(text: str, words: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        read(text)
    assert caught.value.code == 4220
    assert caught.value.message.startswith("calendar test.ics: ")
    assert words in caught.value.message


def test_an_endless_rule_is_expanded_only_through_the_window() -> None:
    endless = calendar(
        EVENT.format(
            uid="forever", body="DTSTART:20260101T100000Z\nDURATION:PT30M\nRRULE:FREQ=DAILY\n"
        )
    )
    parsed = read(endless)
    assert len(parsed.occurrences) == (END - START).days
    # a date-time event with neither DTEND nor DURATION lasts no time (RFC 5545): it blocks none
    reminder = calendar(EVENT.format(uid="note", body="DTSTART:20261102T100000Z\n"))
    assert read(reminder).skipped == {"no length (DTEND equals DTSTART)": 1}


def test_a_huge_or_non_utf8_file_is_refused() -> None:
    with pytest.raises(Unprocessable, match="over the 10 MB limit"):
        read_calendar(b"BEGIN:VCALENDAR\n" + b" " * MAX_BYTES, "big.ics", START, END, ZONE)
    latin = calendar(EVENT.format(uid="x", body="DTSTART:20261102T100000Z\nSUMMARY:Caf\xe9\n"))
    with pytest.raises(Unprocessable, match=r"big.ics: is not UTF-8 text \(byte 0xe9"):
        read_calendar(latin.encode("latin-1"), "big.ics", START, END, ZONE)
