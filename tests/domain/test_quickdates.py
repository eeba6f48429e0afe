"""Quick date input: what the desk types, relative to the clinic's today.

TODAY is handed to the functions, which read no clock of their own: these dates hold on any
real date (`pytest --clock-at=+400d` checks that).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.quickdates import long_date, parse_quick_date

TODAY = dt.date(2026, 11, 20)  # a Friday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", TODAY),
        (" Today ", TODAY),
        ("tomorrow", dt.date(2026, 11, 21)),
        ("tom", dt.date(2026, 11, 21)),
        ("+3", dt.date(2026, 11, 23)),
        ("+3d", dt.date(2026, 11, 23)),
        ("+2w", dt.date(2026, 12, 4)),
        ("+1m", dt.date(2026, 12, 20)),
        ("+3m", dt.date(2027, 2, 20)),
        ("fri", dt.date(2026, 11, 27)),  # on a Friday: next week's
        ("friday", dt.date(2026, 11, 27)),
        ("mon", dt.date(2026, 11, 23)),
        ("next tue", dt.date(2026, 11, 24)),
        ("sa", dt.date(2026, 11, 21)),
        ("2026-12-01", dt.date(2026, 12, 1)),
        ("12-01", dt.date(2026, 12, 1)),
        ("1 dec", dt.date(2026, 12, 1)),
        ("dec 1", dt.date(2026, 12, 1)),
        ("3 jan", dt.date(2027, 1, 3)),  # passed this year: next year's
        ("20 nov", TODAY),
    ],
)
def test_quick_dates(text: str, expected: dt.date) -> None:
    assert parse_quick_date(text, TODAY) == expected


def test_month_end_is_clamped() -> None:
    assert parse_quick_date("+1m", dt.date(2027, 1, 31)) == dt.date(2027, 2, 28)


@pytest.mark.parametrize("text", ["", "soon", "t+", "2026-13-01", "31 feb", "s", "+1y"])
def test_bad_dates_name_the_field_and_the_forms(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_quick_date(text, TODAY, field="date_range_start")
    assert err.value.field == "date_range_start"
    assert err.value.message.startswith("date_range_start: ")


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_iso_round_trip_and_weekdays_are_ahead(today: dt.date) -> None:
    assert parse_quick_date(today.isoformat(), today) == today
    for name in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        day = parse_quick_date(name, today)
        assert 1 <= (day - today).days <= 7
        assert f"{day:%a}".lower() == name


def test_long_date() -> None:
    assert long_date(dt.date(2026, 11, 27)) == "Fri 27 Nov 2026"


def test_offsets_can_count_from_another_day() -> None:
    start = dt.date(2026, 12, 4)
    assert parse_quick_date("+2w", TODAY, offset_from=start) == dt.date(2026, 12, 18)
    assert parse_quick_date("tomorrow", TODAY, offset_from=start) == dt.date(2026, 11, 21)
