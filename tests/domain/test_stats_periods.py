"""The dashboard's named periods: which clinic dates each one covers."""

from __future__ import annotations

import datetime as dt

import pytest

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.stats.report import PERIODS, period_bounds

FRIDAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("period", "since"),
    [
        ("week", dt.date(2026, 11, 16)),  # this week's Monday
        ("30d", dt.date(2026, 10, 22)),
        ("90d", dt.date(2026, 8, 23)),
        ("year", dt.date(2025, 11, 21)),
    ],
)
def test_period_ends_today(period: str, since: dt.date) -> None:
    assert period_bounds(period, FRIDAY) == (since, FRIDAY)
    assert (FRIDAY - since).days + 1 == {"week": 5, "30d": 30, "90d": 90, "year": 365}[period]


def test_week_on_a_monday_is_one_day() -> None:
    monday = dt.date(2026, 11, 16)
    assert period_bounds("week", monday) == (monday, monday)


def test_every_period_has_a_label_and_unknown_is_rejected() -> None:
    assert list(PERIODS) == ["week", "30d", "90d", "year"]
    with pytest.raises(ValidationError):
        period_bounds("decade", FRIDAY)
