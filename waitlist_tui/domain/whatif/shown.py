"""A what-if figure as the comparison table and the chart print it: the same number of
decimals down a row, whatever the value (`34.00` beside `65.19` offers per fill, not `34`),
so the CLI's table and the app's panel read alike."""

from __future__ import annotations

from typing import Any

DECIMALS = {
    "filled_pct": 1,
    "offers_per_fill": 2,
    "acceptance_pct": 1,
    "median_fill_minutes": 1,
    "days_sooner_median": 1,
}


def shown(key: str, value: Any) -> str:
    """`value` of the Outcome field `key`; "n/a" where there is none (no fill, no offers
    per fill)."""
    if value is None:
        return "n/a"
    places = DECIMALS.get(key)
    if places is not None and isinstance(value, int | float):
        return f"{value:.{places}f}"
    return str(value)
