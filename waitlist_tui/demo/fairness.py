"""The demo's fairness history: lead-time offer rules for its clinic, and a fairness record
for each of its recent offered openings, so that `openings show ID --why`, `w` and the
dashboard's fairness panel have something to say in `waitlist-tui demo`.

The generated history (build.py) is left exactly as it is: this only adds rows to
offer_ranking (and the rules to the clinic's settings, which the history did not use), from
its own random stream, so the rest of the demo and its figures do not move. Each record is
what the desk would have seen at the opening's last offer: the entries offered before and
how that ended, the entry offered, now and then a waiting candidate ranked above it and
passed over (skipped by the desk with a typed reason, at the daily offer limit, contacted too
recently), a few that fitted below, and counts of the rest: ranked below, and kept out by each
hard rule (outside the date range, expired, a longer service, a slot for another service).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.fairness_words import FITTED, NOT_OFFERED, OFFERED
from waitlist_tui.domain.fill import lead_time
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic, Entry, Offer, OfferRanking, Opening

# The example table: a week ahead one at a time with a long hold, the next days one
# at a time with an hour, tomorrow morning the top 5 at once held to the cutoff.
OFFER_RULES = [
    {"from_hours": 72, "workflow": "SEQUENTIAL", "hold_minutes": 240},
    {"from_hours": 24, "to_hours": 72, "workflow": "SEQUENTIAL", "hold_minutes": 60},
    {"from_hours": 0, "to_hours": 24, "workflow": "BROADCAST", "top": 5, "hold": "deadline"},
]
RECENT_DAYS = 60
MAX_RECORDS = 400
SKIP_REASONS = (
    "asked for afternoons only this month",
    "on holiday until the 10th",
    "needs the ground-floor room",
    "wants to stay with her usual therapist",
    "said to call back after surgery",
)
ENDED = {vocab.OFFER_DECLINED: "declined", vocab.OFFER_EXPIRED: "expired"}
# The other hard rules a record counts, each with the most it counts (about half are none).
HARD_RULE_COUNTS = (("entry_expired", 3), ("too_long", 8), ("other_service", 5))


def _pools(clinic: Clinic, since: dt.datetime) -> dict[Any, list[Any]]:
    """Waiting entries per service, oldest first: the candidates who also fitted."""
    pools: dict[Any, list[Any]] = defaultdict(list)
    rows = (
        Entry.select(Entry.id, Entry.service, Entry.priority, Entry.created_at)
        .where(Entry.clinic == clinic, Entry.status == vocab.WAITING)
        .order_by(Entry.created_at)
        .namedtuples()
    )
    for r in rows:
        pools[r.service].append(r)
    return pools


def _row(entry: Any, match: str, now: dt.datetime, state: str, why: list[str]) -> dict[str, Any]:
    return {
        "e": str(entry.id),
        "m": match,
        "f": [] if match == vocab.EXACT else ["day"],
        "p": entry.priority,
        "w": max(0, (now - entry.created_at).days),
        "s": state,
        "why": why,
        "_k": (match != vocab.EXACT, entry.priority, entry.created_at, str(entry.id)),
    }


def _record(
    rng: random.Random,
    hard: random.Random,
    clinic: Clinic,
    opening: Any,
    offers: list[Any],
    entries: dict[Any, Any],
    pool: list[Any],
) -> dict[str, Any] | None:
    last = offers[-1]
    at = last.sent_at
    offered = entries.get(last.entry)
    if offered is None:
        return None
    rows = [_row(offered, last.match_type, at, OFFERED, [])]
    for earlier in offers[:-1]:
        e = entries.get(earlier.entry)
        if e is None:
            continue
        reason = ENDED.get(earlier.status, "withdrawn")
        if reason == "expired" and rng.random() < 0.6:
            reason = "no_answer"
        rows.append(_row(e, earlier.match_type, at, NOT_OFFERED, [reason]))
    used = {r["e"] for r in rows}
    fitting = [p for p in pool if str(p.id) not in used and p.created_at < at]
    above = [p for p in fitting if p.priority <= offered.priority]
    roll = rng.random()
    if above and roll < 0.35:
        passed = rng.choice(above[:20])
        used.add(str(passed.id))
        if roll < 0.22:
            row = _row(passed, vocab.EXACT, at, NOT_OFFERED, ["desk_skip"])
            row["note"] = rng.choice(SKIP_REASONS)
        elif roll < 0.29:
            row = _row(passed, vocab.EXACT, at, NOT_OFFERED, ["daily_cap"])
        else:  # offered inside the clinic's spacing, 1-3 hours before (from the same roll)
            row = _row(passed, vocab.EXACT, at, NOT_OFFERED, ["recent"])
            row["x"] = f"offered {1 + int((roll - 0.29) * 50)}h ago"
        if row["_k"] < rows[0]["_k"]:
            rows.append(row)
    wanted = rng.randint(0, 4)
    for p in fitting:
        if wanted == 0:
            break
        if str(p.id) in used:
            continue
        row = _row(p, vocab.EXACT if rng.random() < 0.5 else vocab.PARTIAL, at, FITTED, [])
        if row["_k"] < rows[0]["_k"]:
            row = _row(p, vocab.PARTIAL, at, FITTED, [])  # it fitted only partly: below
        if row["_k"] > rows[0]["_k"]:
            rows.append(row)
            wanted -= 1
    rows.sort(key=lambda r: r["_k"])
    top = max(i for i, r in enumerate(rows) if r["s"] == OFFERED)
    for i, r in enumerate(rows):
        r["r"] = i + 1
        if r["s"] == FITTED:
            if i < top:  # fitted above the offered entry: the record must say why
                r["s"], r["why"] = NOT_OFFERED, ["held"]
            else:
                r["why"] = ["ranked_below"] if r["m"] == vocab.EXACT else ["preference"]
        del r["_k"]
    chosen = lead_time.choose(clinic, opening.starts_at, at)
    rest = {"ranked_below": rng.randint(0, 12), "date_range": rng.randint(0, 30)}
    for rule, most in HARD_RULE_COUNTS:  # their own stream: the one above stays as it was
        rest[rule] = max(0, hard.randint(-most, most))
    return {
        "v": 1,
        "seq": len(offers),
        "workflow": opening.workflow or chosen.workflow,
        "choice": chosen.to_dict(),
        "fitting_total": len(rows) + rest["ranked_below"],
        "rows": rows,
        "rest": {k: v for k, v in rest.items() if v},
        "offered": [str(offered.id)],
    }


def add_history(seed: int, actor: str) -> int:
    """The demo clinic's offer rules and fairness records (one transaction); how many."""
    rng = random.Random(seed * 7919 + 22)
    hard = random.Random(seed * 7919 + 23)
    now = clock.now()
    since = now - dt.timedelta(days=RECENT_DAYS)
    with database.atomic():
        clinic = Clinic.get()
        settings = {**(clinic.settings or {}), lead_time.SETTING: lead_time.parse(OFFER_RULES)}
        Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
        clinic = Clinic.get_by_id(clinic.id)
        openings = list(
            Opening.select()
            .where(Opening.clinic == clinic, Opening.created_at >= since)
            .order_by(Opening.created_at.desc(), Opening.id)
            .limit(MAX_RECORDS)
        )
        by_opening: dict[Any, list[Any]] = defaultdict(list)
        for o in (
            Offer.select(Offer.opening, Offer.entry, Offer.status, Offer.match_type, Offer.sent_at)
            .where(Offer.opening.in_([o.id for o in openings]))
            .order_by(Offer.sent_at, Offer.id)
            .namedtuples()
        ):
            by_opening[o.opening].append(o)
        entry_ids = {o.entry for offers in by_opening.values() for o in offers}
        entries = {
            e.id: e
            for e in Entry.select(Entry.id, Entry.priority, Entry.created_at, Entry.service)
            .where(Entry.id.in_(list(entry_ids)))
            .namedtuples()
        }
        pools = _pools(clinic, since)
        rows = []
        for opening in reversed(openings):  # oldest first: the random stream is fixed
            offers = by_opening.get(opening.id)
            if not offers:
                continue
            service = entries.get(offers[-1].entry)
            pool = pools.get(service.service, []) if service is not None else []
            record = _record(rng, hard, clinic, opening, offers, entries, pool)
            if record is None:
                continue
            rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "opening": opening.id,
                    "offer": None,
                    "entry": None,
                    "kind": "offer",
                    "reason": "",
                    "record": record,
                    "created_at": offers[-1].sent_at,
                    "created_by": actor,
                }
            )
        for start in range(0, len(rows), 200):
            OfferRanking.insert_many(rows[start : start + 200]).execute()
    return len(rows)
