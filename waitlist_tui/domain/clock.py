"""The one source of "now". Tests freeze it with tests.timetravel.frozen_at (time-machine)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import pendulum


@lru_cache(maxsize=64)
def _zone(name: str) -> pendulum.Timezone:
    """A time zone by name, read from the tz database once (pendulum reads the file on every
    call with a name: ~0.2 ms, most of an imported row's time before issue 18)."""
    zone = pendulum.timezone(name)
    assert isinstance(zone, pendulum.Timezone)  # a name, never a fixed offset
    return zone


# The what-if simulation's clock (domain/whatif): set in its own thread or process only, so a
# desk's clock in another thread never moves. A one-item list so the simulation moves it cheaply.
_simulated: ContextVar[list[pendulum.DateTime] | None] = ContextVar("simulated", default=None)


class SimulatedClock:
    """A clock the simulation moves by hand: every clock.now() in this context reads it."""

    def __init__(self, cell: list[pendulum.DateTime]) -> None:
        self._cell = cell

    @property
    def at(self) -> pendulum.DateTime:
        return self._cell[0]

    def move_to(self, when: dt.datetime) -> None:
        if when < self._cell[0]:
            raise ValueError("a simulated clock never runs backwards")
        self._cell[0] = pendulum.instance(when).in_tz(pendulum.UTC)


@contextmanager
def simulated(start: dt.datetime) -> Iterator[SimulatedClock]:
    """Run the block on a simulated clock starting at `start` (aware)."""
    if start.tzinfo is None:
        raise ValueError("simulated needs an aware datetime")
    cell = [pendulum.instance(start).in_tz(pendulum.UTC)]
    token = _simulated.set(cell)
    try:
        yield SimulatedClock(cell)
    finally:
        _simulated.reset(token)


def now() -> pendulum.DateTime:
    """The current instant in UTC."""
    cell = _simulated.get()
    if cell is not None:
        return cell[0]
    return pendulum.now(pendulum.UTC)


def today(tz: str) -> dt.date:
    """Today's date on the clinic's wall calendar (a plain date: drivers adapt it as is)."""
    cell = _simulated.get()
    if cell is not None:
        day = cell[0].in_tz(_zone(tz))
        return dt.date(day.year, day.month, day.day)
    # The standard library's now in the zone (a pendulum Timezone is a ZoneInfo): the same
    # date as pendulum.now(zone) at a tenth of its cost, asked once for every imported row.
    return dt.datetime.now(_zone(tz)).date()
