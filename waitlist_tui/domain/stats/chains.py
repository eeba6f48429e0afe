"""Knock-on chains (issue 22 part 2), read only: how many appointments moved up because a
client took an earlier slot and gave their later one back, and how many days sooner the whole
chain got people seen.

A chain starts with an opening filled by a client who held a later appointment; each release
(an opening with source `knock_on`, fill/knock_on.py) is one move: its client is seen
`released start - new booking start` days sooner. Every release of a chain names the chain's
first opening. Length: the moves in the chain; days sooner: their sum. `refilled`: released
times that were booked again (each one a further client seen sooner).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.store.models import Appointment, Clinic, Opening
from waitlist_tui.domain.timeutil import iso

DAY = 86400.0


@dataclass(frozen=True)
class Chain:
    chain: str  # the chain's first opening
    started_at: dt.datetime  # the first release
    length: int
    days_sooner: float
    refilled: int
    open_now: int
    started_on: dt.date | None = None  # the first release's clinic date (a desk's "today")

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "started_at": iso(self.started_at),
            "started_on": self.started_on.isoformat() if self.started_on else None,
            "length": self.length,
            "days_sooner": self.days_sooner,
            "refilled": self.refilled,
            "open": self.open_now,
        }


@dataclass(frozen=True)
class Chains:
    chains: list[Chain] = field(default_factory=list)

    @property
    def moved_up(self) -> int:
        """Appointments moved up by knock-on: one per release."""
        return sum(c.length for c in self.chains)

    @property
    def refilled(self) -> int:
        return sum(c.refilled for c in self.chains)

    @property
    def days_sooner(self) -> float:
        return round(sum(c.days_sooner for c in self.chains), 1)

    @property
    def longest(self) -> int:
        return max((c.length for c in self.chains), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chains": [c.to_dict() for c in self.chains],
            "count": len(self.chains),
            "moved_up": self.moved_up,
            "refilled": self.refilled,
            "days_sooner": self.days_sooner,
            "longest": self.longest,
        }


def knock_on_chains(
    clinic: Clinic | None = None, since: dt.date | None = None, limit: int = 200
) -> Chains:
    """The clinic's chains whose releases happened from the clinic date `since` on (all by
    default), newest first, at most `limit` of them (the totals count them all)."""
    clinic = clinic or get_clinic()
    zone = ZoneInfo(clinic.time_zone)
    start = None
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    booking = Appointment.alias("booking")
    query = (
        Opening.select(
            Opening.chain,
            Opening.created_at,
            Opening.status,
            Opening.starts_at,
            booking.starts_at.alias("booked_start"),
        )
        .join(booking, JOIN.LEFT_OUTER, on=(Opening.freed_by == booking.id))
        # `chain > ''` rather than IS NOT NULL (the same rows: a chain is an opening's id):
        # SQLite's planner reads IS NOT NULL as matching every row of opening_chain's
        # statistics and scanned every opening instead (80-120 ms at 1,000,000 entries,
        # on every open of the dashboard); the range reads the few chained ones.
        .where(Opening.clinic == clinic, Opening.chain > "")
    )
    if start is not None:
        query = query.where(Opening.created_at >= start)
    grouped: dict[str, dict[str, Any]] = {}
    rows: Any = query.dicts()
    for row in rows:
        one = grouped.setdefault(
            row["chain"],
            {"started": row["created_at"], "length": 0, "days": 0.0, "refilled": 0, "open": 0},
        )
        one["started"] = min(one["started"], row["created_at"])
        one["length"] += 1
        if row["booked_start"] is not None:
            one["days"] += (row["starts_at"] - row["booked_start"]).total_seconds() / DAY
        one["refilled"] += row["status"] == vocab.OPENING_FILLED
        one["open"] += row["status"] == vocab.OPENING_OPEN
    chains = sorted(
        (
            Chain(
                key,
                v["started"],
                v["length"],
                round(v["days"], 1),
                v["refilled"],
                v["open"],
                v["started"].astimezone(zone).date(),  # the field reads aware UTC
            )
            for key, v in grouped.items()
        ),
        key=lambda c: (c.started_at, c.chain),
        reverse=True,
    )
    return Chains(chains[:limit] if limit else chains)
