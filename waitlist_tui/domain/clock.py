"""The one source of "now". Tests freeze it with pendulum.travel_to(..., freeze=True)."""

from __future__ import annotations

import pendulum


def now() -> pendulum.DateTime:
    """The current instant in UTC."""
    return pendulum.now("UTC")


def today(tz: str) -> pendulum.Date:
    """Today's date on the clinic's wall calendar."""
    return pendulum.now(tz).date()
