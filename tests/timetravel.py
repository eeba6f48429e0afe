"""Test clocks that nest, and the suite's shifted wall clock.

Why not `pendulum.travel_to`: pendulum keeps one traveller for the whole process, so leaving an
inner `with pendulum.travel_to(...)` stops the outer freeze too and the rest of the test reads
the real date. Three tests went red on the day their fixed dates passed that way. time-machine
keeps a stack of destinations, so these helpers nest: leaving an inner block goes back to the
outer frozen instant. ruff bans pendulum's travellers in tests (TID251).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pendulum
import time_machine

_stack: list[time_machine.Coordinates] = []


@contextmanager
def frozen_at(when: dt.datetime) -> Iterator[pendulum.DateTime]:
    """Freeze "now" at `when` for the block; nested blocks restore the outer instant."""
    if when.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime: a naive one means the machine's zone")
    with time_machine.travel(when, tick=False) as coordinates:
        _stack.append(coordinates)
        try:
            yield pendulum.instance(when)
        finally:
            _stack.pop()


def move_to(when: dt.datetime) -> None:
    """Move the innermost frozen clock; it goes back when that block ends."""
    if not _stack:
        raise RuntimeError("move_to needs a frozen clock: use the `frozen` fixture or frozen_at")
    _stack[-1].move_to(when, tick=False)


_RELATIVE = re.compile(r"^([+-])(\d+)d$")


def shifted_start(spec: str, today: pendulum.DateTime) -> pendulum.DateTime:
    """Where `--clock-at` puts the wall clock: `+400d` / `-365d` from today's time of day, or
    an ISO date or datetime (a date keeps today's UTC time of day; a bare time means UTC)."""
    spec = spec.strip()
    relative = _RELATIVE.match(spec)
    if relative:
        days = int(relative.group(2)) * (1 if relative.group(1) == "+" else -1)
        return today.add(days=days)
    try:
        parsed = pendulum.parse(spec, tz="UTC")
    except (ValueError, pendulum.parsing.exceptions.ParserError) as err:
        raise ValueError(
            f"--clock-at: {spec!r} is neither +Nd / -Nd nor an ISO date or datetime"
        ) from err
    if isinstance(parsed, pendulum.DateTime):
        if len(spec) == 10:  # a plain date: keep the real time of day
            return parsed.set(hour=today.hour, minute=today.minute, second=today.second)
        return parsed
    if isinstance(parsed, pendulum.Date):
        return pendulum.datetime(parsed.year, parsed.month, parsed.day, today.hour, today.minute)
    raise ValueError(f"--clock-at: {spec!r} is not a date or a datetime")
