"""clock.today reads the date with the standard library's now in the clinic's zone (issue 18:
an import asks it once a row): the date pendulum gives, on either side of midnight."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from tests.timetravel import frozen_at
from waitlist_tui.domain import clock

ZONES = ("America/New_York", "Asia/Tokyo", "Pacific/Kiritimati", "UTC", "Europe/London")


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 11, 20, 4, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 20, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC),  # New York's clocks go forward
    ],
)
def test_today_is_pendulums_date_in_the_zone(when: dt.datetime) -> None:
    with frozen_at(when):
        for zone in ZONES:
            expected = pendulum.now(pendulum.timezone(zone))
            assert clock.today(zone) == dt.date(expected.year, expected.month, expected.day)
