"""The demo's points are worked out in Python (demo_points) as SQLite computes them in
rollup_sql: held here, value by value, to SQLite itself."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3

import pytest

from waitlist_tui.demo import build as demo
from waitlist_tui.demo import points as demo_points
from waitlist_tui.domain.store.rollup_sql import BIN_LADDER, Dialect

# Fractions that round half a millisecond up or down, or carry into the next second.
FRACTIONS = (0, 1, 499, 500, 501, 999_499, 999_500, 999_999, 123_456, 500_500)


@pytest.fixture
def sqlite() -> sqlite3.Connection:
    return sqlite3.connect(":memory:")


def _times(count: int) -> list[str]:
    rng = random.Random(5)
    start = dt.datetime(1999, 12, 31)
    found = []
    for i in range(count):
        moment = start + dt.timedelta(seconds=rng.randrange(120 * 365 * 86400))
        found.append(demo.stamp(moment.replace(microsecond=FRACTIONS[i % len(FRACTIONS)])))
    return found


def test_julian_milliseconds_are_sqlites(sqlite: sqlite3.Connection) -> None:
    times = _times(3000)
    for moment in times:
        (expected,) = sqlite.execute("SELECT julianday(?)", (moment,)).fetchone()
        assert demo_points.jd_ms(moment) / 86400000.0 == expected, moment
    later, earlier = times[::2], times[1::2]
    d = Dialect(postgres=False)
    for a, b in zip(later, earlier, strict=False):
        ticks, days = sqlite.execute(
            f"SELECT {d.ticks('?1', '?2')}, {d.days('?1', '?2')}", (a, b)
        ).fetchone()
        assert demo_points.jd_ms(a) - demo_points.jd_ms(b) == ticks
        assert demo_points._days(demo_points.jd_ms(a), demo_points.jd_ms(b)) == days


def test_bins_are_sqlites(sqlite: sqlite3.Connection) -> None:
    rng = random.Random(3)
    edges = [start + delta for start, _ in BIN_LADDER for delta in (-1e-9, 0.0, 1e-9, 0.5)]
    values = [0.0, -0.0, 1e9, *edges, *(-e for e in edges)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(2000)] + [
        rng.uniform(-200, 200) for _ in range(500)
    ]
    sql = f"SELECT {Dialect(postgres=False).bin('x')} FROM (SELECT ? AS x)"
    for value in values:
        assert demo_points.bin_of(value) == sqlite.execute(sql, (value,)).fetchone()[0], value
    assert demo_points.bin_of(None) is None
