"""The one source of "now". Tests freeze it with tests.timetravel.frozen_at (time-machine)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pendulum


@lru_cache(maxsize=64)
def _zone(name: str) -> pendulum.Timezone:
    """A time zone by name, read from the tz database once (pendulum reads the file on every
    call with a name: ~0.2 ms, most of an imported row's time before issue 18)."""
    zone = pendulum.timezone(name)
    assert isinstance(zone, pendulum.Timezone)  # a name, never a fixed offset
    return zone


def now() -> pendulum.DateTime:
    """The current instant in UTC."""
    return pendulum.now(pendulum.UTC)


def today(tz: str) -> dt.date:
    """Today's date on the clinic's wall calendar (a plain date: drivers adapt it as is)."""
    day = pendulum.now(_zone(tz))
    return dt.date(day.year, day.month, day.day)
