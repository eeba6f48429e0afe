"""The test clocks themselves: nested freezes restore the outer instant (the fault that made
three tests read the real date), and --clock-at's spellings."""

from __future__ import annotations

import pendulum
import pytest

from tests.timetravel import frozen_at, move_to, shifted_start
from waitlist_tui.domain import clock

OUTER = pendulum.datetime(2026, 11, 20, 14, 30, tz="UTC")
INNER = pendulum.datetime(2026, 11, 1, 14, tz="UTC")


def test_a_nested_freeze_gives_the_outer_instant_back() -> None:
    with frozen_at(OUTER):
        with frozen_at(INNER):
            assert clock.now() == INNER
        assert clock.now() == OUTER  # pendulum.travel_to left the real clock here
        move_to(OUTER.add(hours=3))
        assert clock.now() == OUTER.add(hours=3)
        with frozen_at(INNER):
            move_to(INNER.add(days=1))
            assert clock.today("America/New_York") == INNER.add(days=1).date()
        assert clock.now() == OUTER.add(hours=3)


def test_frozen_means_frozen_and_naive_is_refused() -> None:
    with frozen_at(OUTER):
        first = clock.now()
        sum(range(10_000))
        assert clock.now() == first
    with pytest.raises(ValueError, match="aware"), frozen_at(OUTER.naive()):
        pass


def test_move_to_needs_a_frozen_clock() -> None:
    with pytest.raises(RuntimeError, match="frozen"):
        move_to(OUTER)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("+400d", pendulum.datetime(2028, 1, 11, 7, 8, 9, tz="UTC")),
        ("-365d", pendulum.datetime(2025, 12, 7, 7, 8, 9, tz="UTC")),
        ("2027-03-14", pendulum.datetime(2027, 3, 14, 7, 8, 9, tz="UTC")),
        ("2027-11-07T05:30:00Z", pendulum.datetime(2027, 11, 7, 5, 30, tz="UTC")),
        ("2027-03-14T01:30:00-05:00", pendulum.datetime(2027, 3, 14, 6, 30, tz="UTC")),
    ],
)
def test_clock_at_spellings(spec: str, expected: pendulum.DateTime) -> None:
    today = pendulum.datetime(2026, 12, 7, 7, 8, 9, tz="UTC")
    assert shifted_start(spec, today) == expected


@pytest.mark.parametrize("spec", ["tomorrow", "+4w", "2027-13-01", ""])
def test_clock_at_refuses_what_it_cannot_read(spec: str) -> None:
    with pytest.raises(ValueError, match="--clock-at"):
        shifted_start(spec, pendulum.datetime(2026, 12, 7, tz="UTC"))
