"""The fairness record of an opening: what the desk saw when it offered the slot, and why
each entry ranked above the one offered was not.

Every offer call (sending.offer) writes one `OfferRanking` row in its own transaction: the
entries considered, in the engine's order (EXACT before PARTIAL, then priority, longest wait,
id), each with its rank, match type and state, and for each one not offered, why. The record
is compact: the entries that fitted up to STORE_FITTING, the entries this opening was offered
to before (with how that ended), the desk's skips, the first STORE_UNFIT entries a hard rule
kept out, and counts of the rest by reason. Names are not copied: rows name entries by id and
are read back with today's names, so an erased client leaves no copy behind.

Reasons an entry was not offered (REASONS): an earlier offer of this opening ended (declined,
opted out by STOP, phoned with no answer, no reply in time, withdrawn), the client's daily
offer limit, a row another desk held at that moment, skipped by the desk with a typed reason
(`skip_candidate`), passed over when the desk offered another entry by hand, a failed
preference (PARTIAL) or simply ranked below, a client offered less than the clinic's
`min_hours_between_offers` ago (offer_spacing.py), and a hard rule, each named with its
particulars (HARD_RULES: request expired, outside the date range, service longer than the
slot, the slot is for another service). The provider,
day and time of day are preferences here, not hard rules (matching.py): an entry that fails
them is a PARTIAL candidate, and the record says which ones failed.
Contact notes say how the client could be told: no SMS consent, no consent for any channel.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from dataclasses import dataclass
from functools import reduce
from typing import Any

from peewee import SQL, Case, fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fairness_words import (
    FITTED,
    HARD_RULES,
    HARD_WORDS,
    NOT_OFFERED,
    NOTES,
    OFFERED,
    REASONS,
)
from waitlist_tui.domain.fill import offer_spacing
from waitlist_tui.domain.fill.held_back import offers_today
from waitlist_tui.domain.fill.matching import COUNT_CAP, SlotShape, candidates, fits
from waitlist_tui.domain.fill.openings import get_opening
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import (
    AuditEvent,
    Client,
    Entry,
    Offer,
    OfferRanking,
    Opening,
    ProviderService,
    Service,
)
from waitlist_tui.domain.store.prepared import Prepared, PreparedFamily, param
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import days_waited, iso

STORE_FITTING = 20  # fitting entries kept per record, best first
SEEN = STORE_FITTING + 1  # ranked past those kept only to know that more fitted
STORE_UNFIT = 5  # entries a hard rule kept out, kept by name; the rest only counted
STORE_EARLIER = 50
REASON_MAX = 200
OFFER, SKIP = "offer", "skip"
ATTEMPT_ACTION = "offer.contact_attempt"  # contact_attempts.ACTION (that module imports us)

# How an earlier offer of this opening ended -> the reason it was not offered again.
_ENDED = {
    "declined": "declined",
    "opted_out": "opted_out",
    "no_answer": "no_answer",
    "expired": "expired",
    "past_deadline": "expired",
}


def _key(value: Any) -> str:
    """An entry id as the record keeps it (str of a UUID), whatever form a query returned."""
    if isinstance(value, Entry):
        value = value.id
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _row(
    entry_id: Any, match: str, fails: tuple[str, ...] | list[str], priority: int, created: Any
) -> dict[str, Any]:
    return {"e": _key(entry_id), "m": match, "f": list(fails), "p": priority, "_c": created}


def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["m"] != vocab.EXACT, row["p"], row["_c"], row["e"])


_EARLIER_OFFERS = Prepared(
    lambda: (
        Offer.select(Offer.id, Offer.status, Offer.match_type, Entry.id, Entry.priority)
        .join(Entry)
        .where(Offer.opening == param("opening"))
        .order_by(Offer.sent_at)
        .limit(param("limit"))
        .tuples()  # read on every offer call: no models built
    )
)
_OFFER_EVENTS = PreparedFamily(
    lambda n: (
        AuditEvent.select(AuditEvent.object_id, AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.object_type == "offer", AuditEvent.object_id.in_(param("keys", size=n)))
        .tuples()
    )
)


def _earlier(opening: Opening, fresh: set[str]) -> list[dict[str, Any]]:
    """This opening's offers made before this call, each with how it ended."""
    offers = list(_EARLIER_OFFERS.rows(opening=opening.id, limit=STORE_EARLIER + len(fresh)))
    keys = [str(o[0]) for o in offers if str(o[0]) not in fresh]
    causes: dict[str, str] = {}
    called: set[str] = set()
    if keys:
        for object_id, action, changes in _OFFER_EVENTS(len(keys)).rows(keys=keys):
            changes = changes or {}
            if action == ATTEMPT_ACTION:
                if changes.get("outcome") in ("no_answer", "voicemail"):
                    called.add(object_id)
            elif isinstance(changes.get("cause"), list):
                causes[object_id] = changes["cause"][1]
    rows: list[dict[str, Any]] = []
    for offer_id, status, match_type, entry_id, priority in offers:
        key = str(offer_id)
        if key in fresh:
            continue
        if status == vocab.OFFER_SENT:
            reason = "live"
        else:
            reason = _ENDED.get(causes.get(key, status), "withdrawn")
            if reason == "expired" and key in called:
                reason = "no_answer"
        row = _row(entry_id, match_type, (), priority, None)
        row.update(s=NOT_OFFERED, why=[reason])
        rows.append(row)
    return rows


_SKIPS = Prepared(
    lambda: OfferRanking.select().where(
        OfferRanking.opening == param("opening"), OfferRanking.kind == SKIP
    )
)


def _skips(opening: Opening) -> list[dict[str, Any]]:
    rows = []
    for skip in _SKIPS.rows(opening=opening.id):
        seen = skip.record or {}
        row = _row(skip.entry_id, seen.get("m", vocab.EXACT), seen.get("f", []), 0, None)
        row.update(s=NOT_OFFERED, why=["desk_skip"], note=skip.reason)
        rows.append(row)
    return rows


def _fails(
    e: Any, service: Service, slot: SlotShape, now: dt.datetime, only: Any
) -> tuple[str, str]:
    """The first hard rule this entry breaks for the slot, and its detail in plain words."""
    day = slot.local_date
    if e.expires_at is not None and e.expires_at <= now:
        return "entry_expired", f"request expired {e.expires_at:%d %b}"
    if e.date_range_start > day or e.date_range_end < day:
        return (
            "date_range",
            f"wants {e.date_range_start:%d %b}-{e.date_range_end:%d %b}, the slot is {day:%d %b}",
        )
    code, minutes = service.code, service.duration_minutes
    if minutes > slot.minutes:
        return "too_long", f"{code} takes {minutes} min, the slot is {slot.minutes} min"
    if only is not None and e.service_id != only.id:
        return "other_service", f"the slot is for {only.code}, they want {code}"
    return "", ""


_PROVIDER_SERVICES = Prepared(
    lambda: (
        Service.select(Service.id, Service.code, Service.duration_minutes)
        .join(ProviderService, on=ProviderService.service == Service.id)
        .where(ProviderService.provider == param("provider"), Service.kind == "appointment")
    )
)


def _unfit_rules(longer: int, only: bool) -> list[tuple[Any, str]]:
    """The hard rules' conditions in HARD_RULES order (an entry is counted under the first it
    breaks), their values placeholders: the queries are prepared per shape of the provider's
    services (store/prepared.py), as every offer records them."""
    rules = [
        (Entry.expires_at.is_null(False) & (Entry.expires_at <= param("now")), "entry_expired"),
        (
            (Entry.date_range_start > param("day")) | (Entry.date_range_end < param("day")),
            "date_range",
        ),
    ]
    if longer:
        rules.append((Entry.service.in_(param("longer", size=longer)), "too_long"))
    if only:
        rules.append((Entry.service != param("only"), "other_service"))
    return rules


def _unfit_base(services: int, longer: int, only: bool) -> Any:
    rules = _unfit_rules(longer, only)
    return Entry.select().where(
        Entry.clinic == param("clinic"),
        Entry.status == vocab.WAITING,
        Entry.service.in_(param("services", size=services)),
        reduce(operator.or_, [cond for cond, _ in rules]),
    )


_UNFIT_FIRST = PreparedFamily(
    lambda shape: (
        _unfit_base(*shape)
        .select(
            Entry.id,
            Entry.priority,
            Entry.created_at,
            Entry.expires_at,
            Entry.date_range_start,
            Entry.date_range_end,
            Entry.service.alias("service_id"),
        )
        .order_by(Entry.priority, Entry.created_at, Entry.id)
        .limit(param("first"))
        .namedtuples()
    )
)
_UNFIT_COUNTED = PreparedFamily(
    lambda shape: (
        Entry.select(SQL("rule"), fn.COUNT(SQL("*")))
        .from_(
            _unfit_base(*shape)
            .select(Case(None, _unfit_rules(shape[1], shape[2]), None).alias("rule"))
            .limit(param("cap"))
            .alias("capped")
        )
        .group_by(SQL("rule"))
        .tuples()
    )
)


def _unfit(
    opening: Opening, slot: SlotShape, now: dt.datetime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The waiting entries a hard rule keeps out of this slot, each rule named: the first
    STORE_UNFIT in queue order kept with their detail, the rest (up to COUNT_CAP read)
    counted by rule in SQL (200 rows built in Python cost ~10 ms at 100,000 entries). Asked
    of the entries for a service this provider does: their expiry, date range, service length
    or the slot's own service misses. Entries naming this provider for a service the provider
    does not do are not looked for: adding or editing an entry refuses such a provider, and
    scanning the provider's links costs ~80 ms at 100,000 entries (measured), per offer."""
    services = {  # the provider's: a literal list, so no row of the scan joins service
        sv.id: sv for sv in _PROVIDER_SERVICES.rows(provider=opening.provider_id)
    }
    if not services:
        return [], {}
    longer = [i for i, sv in services.items() if sv.duration_minutes > slot.minutes]
    only = opening.service if opening.source == "manual" and opening.service_id else None
    shape = (len(services), len(longer), only is not None)
    values = {
        "clinic": slot.clinic.id,
        "now": now,
        "day": slot.local_date,
        "services": list(services),
        "longer": longer,
        "only": only.id if only is not None else None,
        "first": STORE_UNFIT,
        "cap": COUNT_CAP,
    }
    first: Any = _UNFIT_FIRST(shape).rows(**values)
    rows = []
    for e in first:
        code, detail = _fails(e, services[e.service_id], slot, now, only)
        rows.append({"e": str(e.id), "p": e.priority, "s": NOT_OFFERED, "why": [code], "x": detail})
    rest: dict[str, int] = {}
    if len(rows) == STORE_UNFIT:  # more may follow: counted by rule, up to COUNT_CAP read
        counted: Any = _UNFIT_COUNTED(shape).rows(**values)
        rest = {str(code): int(n) for code, n in counted if code}
        for row in rows:  # those named, unless the capped read left them out
            code = row["why"][0]
            rest[code] = max(0, rest.get(code, 0) - 1)
    return rows, {k: v for k, v in rest.items() if v > 0}


_DETAILS = PreparedFamily(
    lambda n: (
        Entry.select(
            Entry.id,
            Entry.priority,
            Entry.created_at,
            Client.id.alias("client_id"),
            Client.phone.alias("phone"),
            Client.email.alias("email"),
            Client.consent_sms.alias("consent_sms"),
            Client.consent_email.alias("consent_email"),
        )
        .join(Client)
        .where(Entry.id.in_(param("ids", size=n)))
        .namedtuples()
    )
)


def _details(entry_ids: list[str]) -> dict[str, Any]:
    if not entry_ids:
        return {}
    rows = _DETAILS(len(entry_ids)).rows(ids=[uuid.UUID(i) for i in entry_ids])
    return {str(r.id): r for r in rows}


def _contact_notes(d: Any) -> list[str]:
    sms = bool(d.consent_sms and d.phone)
    if sms:
        return []
    if d.consent_email and d.email:
        return ["no_sms"]
    return ["no_consent"]


def record_offer(
    opening: Opening,
    sent: list[Offer],
    chosen: Any,
    by_entry: bool,
    actor: str,
    now: dt.datetime,
    slot: SlotShape | None = None,
) -> OfferRanking:
    """Write what the desk saw for this offer call, in the caller's (the offer's) transaction.
    `chosen`: the lead_time.Chosen the offer was made with; `by_entry`: the desk picked the
    entry by hand; `slot`: the opening's SlotShape if the offer call derived it."""
    slot = slot or SlotShape.of(opening)
    fresh = {str(o.id) for o in sent}
    offered_ids = {str(o.entry_id) for o in sent}
    rows = _earlier(opening, fresh) + _skips(opening)
    for o in sent:
        row = _row(o.entry_id, o.match_type, (), 0, None)
        row.update(s=OFFERED, why=[])
        rows.append(row)
    # Not counted: the capped counts cost as much as the offer itself (measured). The first
    # STORE_FITTING are kept, and one more says whether others fitted below them.
    remaining = fits(opening, SEEN, slot)
    for c in remaining[:STORE_FITTING]:
        row = _row(c.entry_id, c.match_type, c.fails, c.priority, None)
        row.update(s=FITTED, why=[])
        rows.append(row)
    details = _details([r["e"] for r in rows])
    for row in rows:
        d = details.get(row["e"])
        if d is not None:
            row["p"], row["_c"] = d.priority, d.created_at
            row["w"] = days_waited(now, d.created_at)
            notes = _contact_notes(d)
            if notes:
                row["n"] = notes
        else:
            row["_c"] = now
    rows.sort(key=_sort_key)
    last_offered = max((i for i, r in enumerate(rows) if r["s"] == OFFERED), default=-1)
    cap = message_settings.of(opening.clinic).max_offers_per_day
    clients = [details[r["e"]].client_id for r in rows if r["e"] in details]
    counts = offers_today(clients, opening.clinic, now)
    recent = offer_spacing.last_offers(clients, opening.clinic, now)
    for i, row in enumerate(rows):
        row["r"] = i + 1
        if row["s"] != FITTED:
            continue
        if i < last_offered:
            d = details.get(row["e"])
            if by_entry:
                row["why"] = ["by_hand"]
            elif d is not None and d.client_id in recent:
                row["why"] = ["recent"]
                row["x"] = offer_spacing.ago(recent[d.client_id], now)
            elif cap and d is not None and counts.get(d.client_id, 0) >= cap:
                row["why"] = ["daily_cap"]
            else:
                row["why"] = ["held"]
            row["s"] = NOT_OFFERED
        else:
            row["why"] = ["preference"] if row["m"] != vocab.EXACT else ["ranked_below"]
    for row in rows:
        row.pop("_c", None)
    unfit, rest = _unfit(opening, slot, now)
    rest["ranked_below"] = max(0, len(remaining) - STORE_FITTING)
    record = {
        "v": 1,
        "seq": _SEQ.scalar(opening=opening.id) or 0,  # order at one instant
        "workflow": chosen.workflow,
        "choice": chosen.to_dict(),
        "fitting_total": len(remaining) + len(fresh),
        "fitting_capped": len(remaining) >= SEEN,  # at least that many fitted
        "rows": rows + [{**u, "r": None} for u in unfit],
        "rest": {k: v for k, v in rest.items() if v},
        "offered": sorted(offered_ids),
    }
    return OfferRanking.create_by(
        actor,
        now,
        opening=opening.id,
        offer=sent[0].id if sent else None,
        kind=OFFER,
        record=record,
    )


_SEQ = Prepared(lambda: Offer.select(fn.COUNT(SQL("*"))).where(Offer.opening == param("opening")))


def skip_candidate(opening_id: IdRef, entry_id: IdRef, reason: str, actor: str) -> dict[str, Any]:
    """The desk passes over one candidate of an open opening, saying why (typed, required):
    the entry is left out of this opening's ranking from now on, and the reason shows in its
    fairness record. One transaction with its audit row."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason is required: say why this entry is skipped", field="reason")
    if len(reason.strip()) > REASON_MAX:
        raise ValidationError(f"reason must be at most {REASON_MAX} characters", field="reason")
    reason = text_value(reason, "reason", max_len=REASON_MAX)
    now = clock.now()
    with database.atomic():
        opening = get_opening(opening_id, lock=True)
        if opening.status != vocab.OPENING_OPEN:
            raise Conflict(f"opening is {opening.status}", data={"status": opening.status})
        entry = ids.resolve(Entry, entry_id, "waitlist request", field="entry")
        found = candidates(opening, limit=1, only_entry=entry.id, count=False).items
        if not found:
            raise ValidationError(
                "this entry is not a candidate for this opening (not waiting, does not fit, "
                "already offered or skipped)",
                field="entry",
            )
        c = found[0]
        row = OfferRanking.create_by(
            actor,
            now,
            opening=opening.id,
            entry=entry.id,
            kind=SKIP,
            reason=reason,
            record={"m": c.match_type, "f": list(c.fails), "p": c.priority},
        )
        audit.record(
            actor,
            "opening.skip_candidate",
            "opening",
            opening.id,
            {"entry": [None, str(entry.id)], "reason": [None, reason]},
        )
    return {
        "id": str(row.id),
        "opening_id": str(opening.id),
        "entry_id": str(entry.id),
        "reason": reason,
        "at": iso(now),
    }


@dataclass(frozen=True)
class WhyRow:
    """One entry as the desk saw it, named with today's name."""

    rank: int | None
    entry_id: str
    name: str
    match_type: str | None
    priority: int | None
    waited_days: int | None
    state: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    desk_note: str
    fails: tuple[str, ...]
    detail: str = ""  # a hard rule's particulars, or when a too-recent client was offered

    @property
    def reason_text(self) -> str:
        words = [NOTES.get(n, n) for n in self.notes]
        for r in self.reasons:
            if r == "desk_skip" and self.desk_note:
                words.append(f"skipped by the desk: {self.desk_note}")
            elif r == "preference" and self.fails:
                words.append(f"failed preference ({', '.join(self.fails)})")
            elif r in HARD_RULES and self.detail:
                words.append(f"hard rule: {self.detail}")
            elif r == "recent" and self.detail:
                words.append(f"{REASONS[r]}: {self.detail}")
            else:
                words.append(REASONS.get(r, r))
        return ", ".join(words)

    @property
    def label(self) -> str:
        return f"#{self.rank} {self.name}" if self.rank else self.name

    def text(self) -> str:
        if self.state == OFFERED:
            facts = [self.match_type or "", f"priority {self.priority}"]
            if self.waited_days is not None:
                facts.append(f"{self.waited_days} day{'' if self.waited_days == 1 else 's'}")
            notes = ", ".join(NOTES.get(n, n) for n in self.notes)
            return f"offered to {self.label} ({', '.join(facts)}" + (
                f"; {notes})" if notes else ")"
            )
        verb = "not offered" if self.state == NOT_OFFERED else "fitted"
        return f"{self.label} {verb}: {self.reason_text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "entry_id": self.entry_id,
            "client": self.name,
            "match_type": self.match_type,
            "priority": self.priority,
            "waited_days": self.waited_days,
            "state": self.state,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "desk_note": self.desk_note,
            "fails": list(self.fails),
            "detail": self.detail,
            "text": self.text(),
        }


@dataclass(frozen=True)
class Ranking:
    """One offer call's record, read back."""

    id: str
    at: dt.datetime
    by: str
    workflow: str
    why_workflow: str
    rows: tuple[WhyRow, ...]
    rest: dict[str, int]
    fitting_total: int
    fitting_capped: bool = False  # more fitted than the finder's page: "at least"

    def summary(self) -> str:
        """'offered to #1 Ana (EXACT, priority 2, 41 days); #2 Ben not offered: ...'. Rows
        that simply fitted below the offered ones are counted, not named."""
        shown = [r for r in self.rows if r.state in (OFFERED, NOT_OFFERED)]
        offered = [r.text() for r in shown if r.state == OFFERED]
        others = [r.text() for r in shown if r.state != OFFERED]
        below = sum(1 for r in self.rows if r.state == FITTED) + self.rest.get("ranked_below", 0)
        parts = offered + others
        if below:
            more = "+" if self.fitting_capped else ""
            parts.append(f"{below}{more} more fitted, ranked below")
        kept_out = self.kept_out()
        if kept_out:
            parts.append(kept_out)
        return "; ".join(parts) or "nobody was offered"

    def kept_out(self) -> str:
        """'12 more kept out by hard rules (9 outside their date range, 3 ...)': the entries
        a hard rule kept out beyond those named, counted by rule."""
        counts = [(self.rest[r], r) for r in HARD_RULES if self.rest.get(r)]
        if not counts:
            return ""
        total = sum(n for n, _ in counts)
        each = ", ".join(f"{n} {HARD_WORDS[r]}" for n, r in counts)
        return f"{total} more kept out by hard rules ({each})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "by": self.by,
            "workflow": self.workflow,
            "why_workflow": self.why_workflow,
            "fitting_total": self.fitting_total,
            "fitting_capped": self.fitting_capped,
            "rows": [r.to_dict() for r in self.rows],
            "rest": self.rest,
            "summary": self.summary(),
        }


def _names(entry_ids: set[str]) -> dict[str, str]:
    if not entry_ids:
        return {}
    rows: Any = (
        Entry.select(Entry.id, Client.first_name, Client.last_name)
        .join(Client)
        .where(Entry.id.in_([uuid.UUID(i) for i in entry_ids]))
        .tuples()
    )
    return {str(i): f"{first} {last}".strip() for i, first, last in rows}


def _ranking(row: OfferRanking, names: dict[str, str]) -> Ranking:
    rec = row.record or {}
    rows = tuple(
        WhyRow(
            r.get("r"),
            r["e"],
            names.get(r["e"], "(erased)"),
            r.get("m"),
            r.get("p"),
            r.get("w"),
            r.get("s", NOT_OFFERED),
            tuple(r.get("why", [])),
            tuple(r.get("n", [])),
            r.get("note", ""),
            tuple(r.get("f", [])),
            r.get("x", ""),
        )
        for r in rec.get("rows", [])
    )
    choice = rec.get("choice") or {}
    return Ranking(
        str(row.id),
        row.created_at,
        row.created_by,
        rec.get("workflow", ""),
        choice.get("why", ""),
        rows,
        dict(rec.get("rest", {})),
        int(rec.get("fitting_total", 0)),
        bool(rec.get("fitting_capped", False)),
    )


@dataclass(frozen=True)
class OpeningWhy:
    """Every ranking of one opening, oldest first, and the desk's skips still standing."""

    opening_id: str
    rankings: tuple[Ranking, ...]
    skips: tuple[dict[str, Any], ...]
    time_zone: str = "UTC"  # the clinic's: a desk reads times in the clinic's hours

    def text(self) -> str:
        if not self.rankings:
            return "not offered yet: no ranking recorded"
        return "\n".join(r.summary() for r in self.rankings)

    def latest(self) -> str:
        """The most recent ranking's summary (the screens' one line)."""
        return self.rankings[-1].summary() if self.rankings else self.text()

    def to_dict(self) -> dict[str, Any]:
        return {
            "opening_id": self.opening_id,
            "rankings": [r.to_dict() for r in self.rankings],
            "skips": list(self.skips),
            "text": self.text(),
        }


def why(opening_id: IdRef) -> OpeningWhy:
    """What the desk saw each time this opening was offered (`openings show ID --why`)."""
    opening = get_opening(opening_id)
    rows = list(
        OfferRanking.select()
        .where(OfferRanking.opening == opening.id)
        .order_by(OfferRanking.created_at, OfferRanking.id)
    )
    entry_ids = {r["e"] for row in rows for r in (row.record or {}).get("rows", [])}
    entry_ids |= {str(row.entry_id) for row in rows if row.entry_id}
    names = _names(entry_ids)
    offered = sorted(
        (r for r in rows if r.kind == OFFER),
        key=lambda r: (r.created_at, (r.record or {}).get("seq", 0)),
    )
    rankings = tuple(_ranking(r, names) for r in offered)
    skips = tuple(
        {
            "entry_id": str(r.entry_id),
            "client": names.get(str(r.entry_id), "(erased)"),
            "reason": r.reason,
            "at": iso(r.created_at),
            "by": r.created_by,
        }
        for r in rows
        if r.kind == SKIP
    )
    zone = opening.provider.clinic.time_zone
    return OpeningWhy(str(opening.id), rankings, skips, zone)
