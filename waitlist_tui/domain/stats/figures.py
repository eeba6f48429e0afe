"""The figures stats() reports, and the tally both of its sources (the raw tables, the
rollups) fill: shared, so that both round, attribute and count alike."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store.models import Clinic, Provider, Service

WEEKS = 12
OPENING_STATUSES = (vocab.OPENING_OPEN, vocab.OPENING_FILLED, vocab.OPENING_CLOSED)
# Offers that got an answer (or ran out): the acceptance rate's denominator.
ANSWERED = (vocab.OFFER_ACCEPTED, vocab.OFFER_DECLINED, vocab.OFFER_EXPIRED)
ALL = "all"  # the key of the clinic-wide scope among the per-service and per-provider ones

Key = tuple[str, Any]  # (ALL, None) | ("s", service id) | ("p", provider id)


# --- figures ----------------------------------------------------------------------------------


def round1(value: float) -> float:
    """One decimal, halves up. Float noise (julianday differences) is cut first, so that SQLite
    and PostgreSQL round the same value the same way."""
    exact = Decimal(repr(round(float(value), 6)))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> float:
    return round1(100 * part / whole) if whole else 0.0


def mean(total: float, count: int) -> float:
    return round1(total / count) if count else 0.0


@dataclass
class Figures:
    """The figures of one scope: the whole clinic, one service or one provider."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(vocab.COUNTED_STATUSES, 0))
    waited: int = 0  # booked entries with a booked_at
    wait_days: float = 0.0  # their summed waits
    sooner: int = 0  # booked entries with an original appointment
    sooner_days: float = 0.0
    sooner_median: float = 0.0
    offers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(vocab.OFFER_STATUSES, 0))
    openings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPENING_STATUSES, 0))
    fill_median_minutes: float = 0.0

    @property
    def busy(self) -> bool:
        return any(self.counts.values()) or any(self.offers.values()) or any(self.openings.values())

    def to_dict(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        booked = self.counts[vocab.BOOKED]
        offers = sum(self.offers.values())
        answered = sum(self.offers[s] for s in ANSWERED)
        openings = sum(self.openings.values())
        filled = self.openings[vocab.OPENING_FILLED]
        return {
            "counts": dict(self.counts),
            "total": total,
            "active_count": sum(self.counts[s] for s in vocab.ACTIVE_STATUSES),
            "conversion_rate": percent(booked, total),
            "average_wait_days": mean(self.wait_days, self.waited),
            "days_sooner": {
                "count": self.sooner,
                "average": mean(self.sooner_days, self.sooner),
                "median": round1(self.sooner_median),
            },
            "offers": {
                # `sent` is every offer sent in the period, whatever became of it; `pending`
                # the ones still waiting for an answer (status sent).
                "sent": offers,
                "pending": self.offers[vocab.OFFER_SENT],
                "accepted": self.offers[vocab.OFFER_ACCEPTED],
                "declined": self.offers[vocab.OFFER_DECLINED],
                "expired": self.offers[vocab.OFFER_EXPIRED],
                "rescinded": self.offers[vocab.OFFER_RESCINDED],
                "acceptance_rate": percent(self.offers[vocab.OFFER_ACCEPTED], answered),
            },
            "openings": {
                "total": openings,
                **self.openings,
                "fill_rate": percent(filled, openings),
                "median_fill_minutes": round1(self.fill_median_minutes),
            },
        }


@dataclass(frozen=True)
class Week:
    start: dt.date  # a Monday, on the clinic's calendar
    entries_added: int
    entries_booked: int
    openings_filled: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.start.isoformat(),
            "entries_added": self.entries_added,
            "entries_booked": self.entries_booked,
            "openings_filled": self.openings_filled,
        }


@dataclass
class Stats:
    clinic: Clinic
    since: dt.date | None
    until: dt.date | None
    provider: Provider | None
    overall: Figures
    by_service: list[tuple[Service, Figures]]
    by_provider: list[tuple[Provider, Figures]]
    weekly: list[Week]

    def to_dict(self) -> dict[str, Any]:
        return {
            "clinic": self.clinic.code,
            "time_zone": self.clinic.time_zone,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "provider": self.provider.code if self.provider else None,
            **self.overall.to_dict(),
            "by_service": [
                {"service": s.code, "name": s.name, **f.to_dict()} for s, f in self.by_service
            ],
            "by_provider": [
                {"provider": p.code, "name": p.name, **f.to_dict()} for p, f in self.by_provider
            ],
            "weekly": [w.to_dict() for w in self.weekly],
        }


# --- the scope and the tally ---------------------------------------------------------


# An id as a grouped row hands it back: uuid.UUID (PostgreSQL), its text (SQLite), or None.
RowId = uuid.UUID | str | None


def uid(value: RowId) -> uuid.UUID | None:
    """Ids as uuid.UUID, whichever form the driver handed back (hex text, str, UUID)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


@dataclass
class Scope:
    """What one stats() call asks for, as both sources read it."""

    clinic: Clinic
    service_ids: list[Any]  # the clinic's services: an entry counts through its service
    lo: dt.datetime | None  # [lo, hi): the period, as the naive UTC the columns store
    hi: dt.datetime | None
    provider: Provider | None
    week_bounds: list[dt.datetime]  # WEEKS + 1 instants: the weekly series' weeks
    keys: list[Key]  # the scopes reported: the clinic, each service, each provider


class Tally:
    """Figures per scope, and the weekly series, filled from grouped rows. The add_* methods
    hold the attribution rules (module docstring of stats.py), for both sources."""

    def __init__(self, provider: Provider | None) -> None:
        self.provider = provider
        self.figures: dict[Key, Figures] = defaultdict(Figures)
        self.added = [0] * WEEKS
        self.booked = [0] * WEEKS
        self.filled = [0] * WEEKS

    def scopes(self, service_id: RowId, provider_id: RowId) -> list[Figures]:
        """The clinic's figures, the service's and the provider's (when the row has them)."""
        found = [self.figures[(ALL, None)]]
        if service_id is not None:
            found.append(self.figures[("s", uid(service_id))])
        if provider_id is not None:
            found.append(self.figures[("p", uid(provider_id))])
        return found

    def add_entries(self, service_id: RowId, status: str, count: int) -> None:
        """Entries per service and status (no provider: only booked entries have one); a
        pending self-join request is not on the waitlist yet."""
        if status == vocab.PENDING:
            return
        for figures in self.scopes(service_id, None):
            figures.counts[status] = figures.counts.get(status, 0) + count

    def add_booked(
        self,
        service_id: RowId,
        provider_id: RowId,
        count: int,
        waited: int,
        wait_days: float,
        sooner: int,
        sooner_days: float,
    ) -> None:
        """Booked entries created in the period, by service and the provider they were booked
        with (None: no appointment)."""
        scopes = self.scopes(service_id, provider_id)
        # Status counts: the clinic's and the services' come from add_entries, unless one
        # provider is asked for (then every scope holds that provider's booked entries only).
        counted = scopes
        if self.provider is None:
            counted = [self.figures[("p", uid(provider_id))]] if provider_id is not None else []
        for figures in counted:
            figures.counts[vocab.BOOKED] += count
        for figures in scopes:
            figures.waited += waited
            figures.wait_days += wait_days
            figures.sooner += sooner
            figures.sooner_days += sooner_days

    def add_offers(self, service_id: RowId, provider_id: RowId, status: str, count: int) -> None:
        """Offers per status, counted where their opening counts (its service and provider)."""
        for figures in self.scopes(service_id, provider_id):
            figures.offers[status] = figures.offers.get(status, 0) + count

    def add_openings(self, service_id: RowId, provider_id: RowId, status: str, count: int) -> None:
        for figures in self.scopes(service_id, provider_id):
            figures.openings[status] = figures.openings.get(status, 0) + count

    def set_medians(self, medians: dict[Key, float], attribute: str) -> None:
        for key, value in medians.items():
            setattr(self.figures[key], attribute, value)
