"""The dashboard's figures as the desk reads them: the cards, the per-service and
per-provider columns, and what a read hands the screen. No widgets here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain.stats.report import PERIODS


def pct(value: float) -> str:
    return f"{value:.1f}%"


def days(value: float) -> str:
    return f"{value:.1f} d"


def duration(minutes: float) -> str:
    """A median fill time: 45m, 4h 55m, 2.3 d."""
    if minutes < 60:
        return f"{minutes:.0f}m"
    if minutes < 24 * 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours}h {rest:02d}m"
    return f"{minutes / (24 * 60):.1f} d"


def fill_time(openings: dict[str, Any]) -> str:
    """No opening filled: no median to show ("0m" read as filled at once)."""
    return duration(openings["median_fill_minutes"]) if openings["filled"] else "–"


# (card id, label, value from a stats dict)
CARDS: list[tuple[str, str, Any]] = [
    ("waiting", "Waiting", lambda d: f"{d['counts']['waiting']:,}"),
    ("offered", "Offered", lambda d: f"{d['counts']['offered']:,}"),
    ("booked", "Booked", lambda d: f"{d['counts']['booked']:,}"),
    ("expired", "Expired", lambda d: f"{d['counts']['expired']:,}"),
    ("cancelled", "Cancelled", lambda d: f"{d['counts']['cancelled']:,}"),
    ("active", "Active", lambda d: f"{d['active_count']:,}"),
    ("conversion", "Converted", lambda d: pct(d["conversion_rate"])),
    ("wait", "Avg wait", lambda d: days(d["average_wait_days"])),
    ("acceptance", "Accepted", lambda d: pct(d["offers"]["acceptance_rate"])),
    ("filled", "Fill rate", lambda d: pct(d["openings"]["fill_rate"])),
    ("fill-time", "Fill time", lambda d: fill_time(d["openings"])),
]
# An entry has a provider once it is booked (domain/stats/report.py): for one provider these cards
# read "Waiting 0, Active 0, Converted 100%" while entries asked for that provider. They
# show a dash, and the status line says why.
NOT_PER_PROVIDER = ("waiting", "offered", "expired", "cancelled", "active", "conversion")
PER_PROVIDER_NOTE = "booked entries only: a waiting one has no provider yet"
# ...and the per-service columns that count waiting entries, for the same reason
NOT_PER_PROVIDER_COLUMNS = ("Added", "Active", "Conv")


def card_values(figures: dict[str, Any]) -> dict[str, str]:
    """Each card's text for these figures; a dash where a card does not count per provider."""
    values = {card_id: value(figures) for card_id, _, value in CARDS}
    if figures.get("provider"):
        values.update(dict.fromkeys(NOT_PER_PROVIDER, "–"))
    return values


CARD_TIPS = {
    "conversion": "Entries booked, of all entries added in the period",
    "wait": "Average days from an entry's creation to its booking",
    "acceptance": "Offers accepted, of those answered or run out",
    "filled": "Openings filled, of the openings created in the period",
    "fill-time": "Median time from an opening's creation to its filling",
    "active": "Waiting + offered",
}
# The per-service and per-provider tables: (header, width, value from a stats dict), numbers
# right-aligned. Widths are fixed (a count up to 9,999,999; a rate up to 100.0%), so that the
# columns do not jump as figures arrive and the tables fit beside the chart at 120 columns.
# A provider counts booked entries only (domain/stats/report.py), so its table has no conversion.
NAME_WIDTH = 10
SERVICE_COLUMNS: list[tuple[str, int, Any]] = [
    ("Added", 7, lambda d: f"{d['total']:,}"),
    ("Active", 7, lambda d: f"{d['active_count']:,}"),
    ("Booked", 7, lambda d: f"{d['counts']['booked']:,}"),
    ("Conv", 6, lambda d: pct(d["conversion_rate"])),
    ("Wait", 6, lambda d: days(d["average_wait_days"])),
    ("Accept", 6, lambda d: pct(d["offers"]["acceptance_rate"])),
    ("Filled", 6, lambda d: pct(d["openings"]["fill_rate"])),
]
PROVIDER_COLUMNS: list[tuple[str, int, Any]] = [
    ("Booked", 7, lambda d: f"{d['counts']['booked']:,}"),
    ("Wait", 6, lambda d: days(d["average_wait_days"])),
    ("Offers", 7, lambda d: f"{d['offers']['sent']:,}"),
    ("Accept", 6, lambda d: pct(d["offers"]["acceptance_rate"])),
    ("Slots", 7, lambda d: f"{d['openings']['total']:,}"),
    ("Filled", 6, lambda d: pct(d["openings"]["fill_rate"])),
    ("Fill in", 7, lambda d: fill_time(d["openings"])),
]
TABLE_COLUMNS = {"services": SERVICE_COLUMNS, "providers": PROVIDER_COLUMNS}


@dataclass(frozen=True)
class Selection:
    """What the figures are asked for."""

    period: str = "30d"
    provider: str | None = None


@dataclass(frozen=True)
class Loaded:
    """The figures as the worker hands them to the screen (plain values, no models)."""

    selection: Selection
    figures: dict[str, Any] | None = None
    error: str | None = None
    clinic_name: str = ""
    provider_choices: tuple[tuple[str, str], ...] = ()  # (label, code)
    as_of: str = ""
    knock_on: dict[str, Any] | None = None  # stats.chains, all providers' figures only


def knock_on_text(chains: dict[str, Any] | None) -> str:
    """' · 3 appointments moved up by knock-on (12.5 days sooner)', or nothing when no
    chain ran in the period (the status line stays as it was)."""
    if not chains or not chains["moved_up"]:
        return ""
    moved = chains["moved_up"]
    return (
        f" · {moved} appointment{'s' if moved != 1 else ''} moved up by knock-on "
        f"({chains['days_sooner']} days sooner)"
    )


def period_label(selection: Selection, figures: dict[str, Any]) -> str:
    """'30 days · 22 Oct–20 Nov' (the year too when the period crosses one)."""
    since = dt.date.fromisoformat(figures["since"])
    until = dt.date.fromisoformat(figures["until"])
    first = f"{since:%d %b}" if since.year == until.year else f"{since:%d %b %Y}"
    return f"{PERIODS[selection.period]} · {first}–{until:%d %b}"
