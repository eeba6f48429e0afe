"""Calendar settings from the clinic file, the event-to-service rules, and the export read
back by icalendar. (Fixed dates; reads no clock.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from waitlist_tui.domain.calendar.export import Booked, calendar_bytes, uid_of
from waitlist_tui.domain.calendar.fetch import label
from waitlist_tui.domain.calendar.ical import Occurrence, read_calendar
from waitlist_tui.domain.calendar.sources import parse_sources, service_for
from waitlist_tui.domain.errors import ValidationError

CODES = {"PT-EVAL", "PT-FU", "MASSAGE"}


def test_sources_resolve_files_beside_the_clinic_file_and_keep_feeds(tmp_path: Path) -> None:
    specs = parse_sources(
        [
            {"source": "calendars/kim.ics", "match": {"Assessment": "pt-eval", "follow": "PT-FU"}},
            {"source": "https://calendar.example.com/private-abc123/basic.ics?token=s3cret"},
        ],
        "providers[0].calendars",
        CODES,
        tmp_path,
    )
    assert specs[0].source == str(tmp_path / "calendars" / "kim.ics")
    assert specs[0].match == (("assessment", "PT-EVAL"), ("follow", "PT-FU"))
    # a feed's label hides its private path and query
    assert specs[1].label == "https://calendar.example.com/…/basic.ics"
    assert "s3cret" not in label(specs[1].source)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("kim.ics", "providers[0].calendars", "must be an array of tables"),
        ([{"match": {}}], "providers[0].calendars[0].source", "must be a file path or an http"),
        (
            [{"source": "ftp://x/y.ics"}],
            "providers[0].calendars[0].source",
            "ftp:// is not supported",
        ),
        (
            [{"source": "a.ics", "every": 5}],
            "providers[0].calendars[0].every",
            "not a calendar setting",
        ),
        (
            [{"source": "a.ics", "match": {"yoga": "YOGA"}}],
            "providers[0].calendars[0].match.yoga",
            "unknown service 'YOGA'",
        ),
    ],
)
def test_bad_calendar_settings_name_the_field(raw: object, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_sources(raw, "providers[0].calendars", CODES, None)
    assert caught.value.field == field and words in caught.value.message


def occurrence(summary: str, categories: tuple[str, ...] = ()) -> Occurrence:
    at = dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC)
    return Occurrence("u", "", at, at + dt.timedelta(hours=1), summary, categories, False, False, 0)


def test_the_first_matching_rule_names_the_service() -> None:
    rules = (("assessment", "PT-EVAL"), ("massage", "MASSAGE"))
    assert service_for(occurrence("Initial Assessment - Ann"), rules) == "PT-EVAL"
    assert service_for(occurrence("Ann", ("Sports Massage",)), rules) == "MASSAGE"
    assert service_for(occurrence("Team meeting"), rules) is None  # unknown: still blocks time


def test_the_export_parses_back_and_reads_as_the_same_appointments() -> None:
    made = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    booked = [
        Booked(
            "a1",
            "KIM",
            "Dr. Alex Kim",
            "Physiotherapy follow-up",
            "Ann Lee",
            dt.datetime(2026, 11, 3, 14, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 3, 14, 30, tzinfo=dt.UTC),
            False,
            1,
            made,
            made,
        ),
        Booked(
            "a2",
            "KIM",
            "Dr. Alex Kim",
            "Physiotherapy follow-up",
            "Bo Wu",
            dt.datetime(2026, 11, 4, 15, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 4, 15, 30, tzinfo=dt.UTC),
            True,
            3,
            made,
            made + dt.timedelta(hours=2),
        ),
    ]
    data = calendar_bytes("Dr. Alex Kim", "America/New_York", booked)
    parsed = read_calendar(
        data,
        "export",
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        "America/New_York",
    )
    got = {o.uid: o for o in parsed.occurrences}
    assert set(got) == {uid_of("a1"), uid_of("a2")}
    assert got[uid_of("a1")].starts_at == booked[0].starts_at and not got[uid_of("a1")].cancelled
    assert got[uid_of("a2")].cancelled and got[uid_of("a2")].sequence == 2
