"""The one source of "now". Tests freeze it with tests.timetravel.frozen_at (time-machine)."""

from __future__ import annotations

import datetime as dt

import pendulum


def now() -> pendulum.DateTime:
    """The current instant in UTC."""
    return pendulum.now("UTC")


def today(tz: str) -> dt.date:
    """Today's date on the clinic's wall calendar (a plain date: drivers adapt it as is)."""
    day = pendulum.now(tz)
    return dt.date(day.year, day.month, day.day)
