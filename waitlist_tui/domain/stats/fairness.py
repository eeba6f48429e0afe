"""The manager's fairness report and the lead-time split: read from the fairness records
(offer_ranking, written with every offer) and the offers and openings themselves.

For a period `since`..`until` (clinic dates, inclusive; None leaves that end open):

- passed over: each offer call of the period that went to an entry ranked below a waiting
  candidate who fitted and was not offered (daily cap, another desk's hold, a desk skip, an
  offer made by hand), with that candidate and the reason;
- median wait before the first offer (days from an entry's creation to the first offer it
  ever got, for entries whose first offer was sent in the period), by priority, by service
  and by provider (the provider of the opening offered);
- never offered: entries waiting now for longer than `wait_days` that fitted an opening
  ranked in the period but have never been offered anything.

The lead-time split (`lead_time_report`) counts the openings first offered in the period by
their lead time then (slot start minus first offer), in the clinic's bands (the set-up file's
`[[offer_rules]]`, else <24h, 24-72h and >=72h): openings offered, filled, fill rate, offers
sent, offers per fill and the median minutes from first offer to filling.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fairness_words import NOT_OFFERED, OFFERED, PASSED_OVER, REASONS
from waitlist_tui.domain.stats.figures import percent, round1
from waitlist_tui.domain.stats.report import _day_start, _snapshot
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    Offer,
    OfferRanking,
    Opening,
    Provider,
    Service,
)
from waitlist_tui.domain.timeutil import iso, parse_date

DEFAULT_WAIT_DAYS = 30
LIST_LIMIT = 50
DEFAULT_BANDS = (
    {"from_hours": 0, "to_hours": 24, "band": "<24h"},
    {"from_hours": 24, "to_hours": 72, "band": "24-72h"},
    {"from_hours": 72, "to_hours": None, "band": ">=72h"},
)


def _period(
    clinic: Clinic, since: Any, until: Any
) -> tuple[dt.date | None, dt.date | None, dt.datetime | None, dt.datetime | None]:
    since_day = parse_date(since, "from") if since not in (None, "") else None
    until_day = parse_date(until, "to") if until not in (None, "") else None
    if since_day and until_day and since_day > until_day:
        raise ValidationError("to must be on or after from", field="to")
    tz = clinic.time_zone
    low = _day_start(since_day, tz) if since_day else None
    high = _day_start(until_day + dt.timedelta(days=1), tz) if until_day else None
    return since_day, until_day, low, high


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=dt.UTC)


def _within(column: Any, low: dt.datetime | None, high: dt.datetime | None) -> Any:
    cond = column.is_null(False)
    if low is not None:
        cond &= column >= low
    if high is not None:
        cond &= column < high
    return cond


def _names(entry_ids: set[str]) -> dict[str, str]:
    if not entry_ids:
        return {}
    rows: Any = (
        Entry.select(Entry.id, Client.first_name, Client.last_name)
        .join(Client)
        .where(Entry.id.in_([uuid.UUID(i) for i in entry_ids]))
        .tuples()
    )
    return {str(i): f"{a} {b}".strip() for i, a, b in rows}


def _median(values: list[float]) -> float:
    return round1(statistics.median(values)) if values else 0.0


def _passed_over(rankings: list[Any], zone: ZoneInfo) -> list[dict[str, Any]]:
    found = []
    for ranking in rankings:
        rows = (ranking.record or {}).get("rows", [])
        offered = [r for r in rows if r.get("s") == OFFERED and r.get("r")]
        if not offered:
            continue
        low = max(r["r"] for r in offered)
        above = [
            r
            for r in rows
            if r.get("s") == NOT_OFFERED
            and r.get("r")
            and r["r"] < low
            and set(r.get("why", [])) & set(PASSED_OVER)
        ]
        if above:
            found.append((ranking, offered, above))
    ids = {r["e"] for _, o, a in found for r in o + a}
    names = _names(ids)
    out = []
    for ranking, offered, above in found:

        def who(r: dict[str, Any]) -> dict[str, Any]:
            reasons = [c for c in r.get("why", [])]
            words = [REASONS.get(c, c) for c in reasons]
            if "desk_skip" in reasons and r.get("note"):
                words = [f"skipped by the desk: {r['note']}"]
            return {
                "rank": r["r"],
                "entry_id": r["e"],
                "client": names.get(r["e"], "(erased)"),
                "match_type": r.get("m"),
                "priority": r.get("p"),
                "reasons": reasons,
                "reason": ", ".join(words),
            }

        out.append(
            {
                "opening_id": str(ranking.opening_id),
                "at": iso(ranking.created_at),
                "on": ranking.created_at.astimezone(zone).date().isoformat(),  # the desk's day
                "by": ranking.created_by,
                "offered": [who(r) for r in offered],
                "passed_over": [who(r) for r in above],
            }
        )
    return out


def _first_offer_waits(
    clinic: Clinic, low: dt.datetime | None, high: dt.datetime | None
) -> dict[str, list[dict[str, Any]]]:
    """Median days from an entry's creation to its first offer, by priority, service and
    provider, over the entries whose first offer was sent in the period."""
    rows = (
        Offer.select(
            Offer.entry,
            Offer.sent_at,
            Entry.created_at,
            Entry.priority,
            Service.code,
            Provider.code.alias("provider_code"),
        )
        .join(Entry)
        .join(Service)
        .switch(Offer)
        .join(Opening)
        .join(Provider)
        .where(Entry.clinic == clinic, _within(Offer.sent_at, low, high))
        .order_by(Offer.sent_at)
        .namedtuples()
    )
    first: dict[Any, Any] = {}
    for row in rows:
        first.setdefault(row.entry, row)
    if low is not None and first:
        earlier = {
            o.entry_id
            for o in Offer.select(Offer.entry).where(
                Offer.entry.in_(list(first)), Offer.sent_at < low
            )
        }
        first = {k: v for k, v in first.items() if k not in earlier}
    groups: dict[str, dict[Any, list[float]]] = {
        "by_priority": defaultdict(list),
        "by_service": defaultdict(list),
        "by_provider": defaultdict(list),
    }
    for row in first.values():
        days = max(0.0, (row.sent_at - row.created_at).total_seconds() / 86400)
        groups["by_priority"][row.priority].append(days)
        groups["by_service"][row.code].append(days)
        groups["by_provider"][row.provider_code].append(days)
    return {
        name: [
            {"key": key, "entries": len(values), "median_days": _median(values)}
            for key, values in sorted(by.items(), key=lambda kv: str(kv[0]))
        ]
        for name, by in groups.items()
    }


def _never_offered(rankings: list[Any], wait_days: int) -> dict[str, Any]:
    fitted: dict[str, int] = defaultdict(int)
    for ranking in rankings:
        for r in (ranking.record or {}).get("rows", []):
            if r.get("r") and r.get("s") != OFFERED:
                fitted[r["e"]] += 1
    if not fitted:
        return {"count": 0, "items": []}
    cutoff = clock.now() - dt.timedelta(days=wait_days)
    ids = [uuid.UUID(i) for i in fitted]
    offered = Offer.select(Offer.entry).where(Offer.entry.in_(ids))
    rows: list[Any] = list(
        Entry.select(
            Entry.id, Entry.created_at, Entry.priority, Client.first_name, Client.last_name
        )
        .join(Client)
        .where(
            Entry.id.in_(ids),
            Entry.status == vocab.WAITING,
            Entry.created_at < cutoff,
            Entry.id.not_in(offered),
        )
        .order_by(Entry.created_at, Entry.id)
        .namedtuples()
    )
    now = clock.now()
    return {
        "count": len(rows),
        "items": [
            {
                "entry_id": str(r.id),
                "client": f"{r.first_name} {r.last_name}".strip(),
                "priority": r.priority,
                "waited_days": max(0, (now - r.created_at).days),
                "fitted_openings": fitted[str(r.id)],
            }
            for r in rows[:LIST_LIMIT]
        ],
    }


def fairness_report(
    clinic: Clinic | None = None,
    since: Any = None,
    until: Any = None,
    wait_days: int = DEFAULT_WAIT_DAYS,
) -> dict[str, Any]:
    """The manager's fairness report for a period (see the module docstring)."""
    clinic = clinic or get_clinic()
    if not isinstance(wait_days, int) or isinstance(wait_days, bool) or not 0 <= wait_days <= 3650:
        raise ValidationError("wait_days must be a whole number 0-3650", field="wait_days")
    since_day, until_day, low, high = _period(clinic, since, until)
    with _snapshot():
        rankings = list(
            OfferRanking.select()
            .join(Opening, on=OfferRanking.opening == Opening.id)
            .where(
                Opening.clinic == clinic,
                OfferRanking.kind == "offer",
                _within(OfferRanking.created_at, low, high),
            )
            .order_by(OfferRanking.created_at)
        )
        passed = _passed_over(rankings, ZoneInfo(clinic.time_zone))
        waits = _first_offer_waits(clinic, low, high)
        never = _never_offered(rankings, wait_days)
    return {
        "since": since_day.isoformat() if since_day else None,
        "until": until_day.isoformat() if until_day else None,
        "rankings": len(rankings),
        "passed_over": passed,
        "passed_over_count": len(passed),
        "wait_before_first_offer": waits,
        "wait_days": wait_days,
        "never_offered": never,
    }


def bands_of(clinic: Clinic) -> list[dict[str, Any]]:
    """The clinic's lead-time bands (its offer rules'), else the default three."""
    kept = (clinic.settings or {}).get("offer_rules") or []
    return [dict(r) for r in kept] if kept else [dict(b) for b in DEFAULT_BANDS]


def _band(bands: list[dict[str, Any]], hours: float) -> str:
    for b in bands:
        if hours >= b["from_hours"] and (b["to_hours"] is None or hours < b["to_hours"]):
            return str(b["band"])
    return str(bands[0]["band"])


def lead_time_report(
    clinic: Clinic | None = None, since: Any = None, until: Any = None
) -> dict[str, Any]:
    """Fill rate, offers per fill and time to fill by lead-time band (module docstring)."""
    clinic = clinic or get_clinic()
    since_day, until_day, low, high = _period(clinic, since, until)
    bands = bands_of(clinic)
    in_period = Offer.select(Offer.opening).where(_within(Offer.sent_at, low, high))
    with _snapshot():
        rows: list[Any] = list(
            Offer.select(
                Offer.opening,
                Offer.sent_at,
                Opening.starts_at,
                Opening.status,
                Opening.filled_at,
            )
            .join(Opening)
            .where(
                Opening.clinic == clinic,
                Offer.opening.in_(in_period) if low or high else Opening.clinic == clinic,
            )
            .order_by(Offer.sent_at)
            .namedtuples()
        )
    per: dict[Any, dict[str, Any]] = {}
    for r in rows:
        seen = per.setdefault(
            r.opening,
            {
                "first": r.sent_at,
                "start": r.starts_at,
                "status": r.status,
                "filled_at": r.filled_at,
                "offers": 0,
            },
        )
        seen["offers"] += 1
    tally: dict[str, dict[str, Any]] = {
        b["band"]: {"openings": 0, "filled": 0, "offers": 0, "minutes": []} for b in bands
    }
    low_at, high_at = _aware(low), _aware(high)  # the columns read back aware (UTC)
    for seen in per.values():
        first: dt.datetime = seen["first"]
        first = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
        if (low_at is not None and first < low_at) or (high_at is not None and first >= high_at):
            continue
        hours = max(0.0, (seen["start"] - first).total_seconds() / 3600)
        t = tally[_band(bands, hours)]
        t["openings"] += 1
        t["offers"] += seen["offers"]
        if seen["status"] == vocab.OPENING_FILLED:
            t["filled"] += 1
            if seen["filled_at"] is not None:
                t["minutes"].append(max(0.0, (seen["filled_at"] - first).total_seconds() / 60))
    out = []
    for b in bands:
        t = tally[b["band"]]
        out.append(
            {
                "band": b["band"],
                "from_hours": b["from_hours"],
                "to_hours": b["to_hours"],
                "rule": b.get("workflow")
                and {
                    "workflow": b["workflow"],
                    "hold_minutes": b.get("hold_minutes"),
                    "top": b.get("top"),
                },
                "openings": t["openings"],
                "filled": t["filled"],
                "fill_rate": percent(t["filled"], t["openings"]),
                "offers": t["offers"],
                "offers_per_fill": round1(t["offers"] / t["filled"]) if t["filled"] else 0.0,
                "median_minutes_to_fill": _median(t["minutes"]),
            }
        )
    return {
        "since": since_day.isoformat() if since_day else None,
        "until": until_day.isoformat() if until_day else None,
        "configured": bool((clinic.settings or {}).get("offer_rules")),
        "bands": out,
    }
