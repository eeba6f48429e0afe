"""Who can take an opening (DESIGN.md section 4).

Hard rules select (in SQL, on the service/status index): same clinic, entry waiting and not
past its expires_at, a service the provider offers that fits in the opening, the slot's clinic
date inside the entry's range, and no earlier offer of this opening to the entry. The soft
rules (provider, day, part of day or time window) become flags in the same query, so the
ranking (EXACT before PARTIAL, then priority, longest wait, id) and the count come from one
scan; Python then words the explanation for the page it shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from peewee import SQL, Case, Select, fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill.availability import ANYTIME_BIT, part_windows, start_part_mask
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    DEMAND_INDEX,
    Client,
    Clinic,
    Entry,
    EntryProvider,
    Offer,
    OfferRanking,
    Opening,
    Provider,
    ProviderService,
    Service,
)
from waitlist_tui.domain.store.prepared import PreparedFamily, param
from waitlist_tui.domain.store.provider_pref import listed_takes_provider, provider_key
from waitlist_tui.domain.timeutil import days_waited, fmt_hhmm

PART_WORDS = {"MORNING": "mornings", "AFTERNOON": "afternoons", "EVENING": "evenings"}


@dataclass(frozen=True)
class Candidate:
    entry_id: IdRef
    match_type: str
    fails: tuple[str, ...]  # provider, day, time
    priority: int
    waited_days: int
    client_id: IdRef
    client_name: str
    phone: str | None
    email: str | None
    service_code: str
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": str(self.entry_id),
            "match_type": self.match_type,
            "fails": list(self.fails),
            "priority": self.priority,
            "waited_days": self.waited_days,
            "client_id": str(self.client_id),
            "client": self.client_name,
            "phone": self.phone,
            "email": self.email,
            "service": self.service_code,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class CandidateList:
    opening_id: IdRef
    items: list[Candidate]
    total: int  # capped: COUNT_CAP for each match type means "at least"
    exact: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "count_cap": COUNT_CAP,
            "opening_id": str(self.opening_id),
            "items": [c.to_dict() for c in self.items],
            "total": self.total,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class SlotShape:
    """An opening as matching sees it, on the clinic's wall clock (not fill.slot.Slot, the
    value that is offered: this one is derived for the ranking query)."""

    clinic: Clinic
    provider_id: IdRef
    provider_code: str
    starts_at: dt.datetime
    minutes: int
    local_date: dt.date
    start_minute: int
    part_mask: int
    service_ids: tuple[Any, ...]

    @classmethod
    def of(cls, opening: Opening) -> SlotShape:
        clinic = opening.clinic
        local = opening.starts_at.astimezone(ZoneInfo(clinic.time_zone))
        start_minute = local.hour * 60 + local.minute
        minutes = int((opening.ends_at - opening.starts_at).total_seconds() // 60)
        part_mask = start_part_mask(part_windows(clinic), start_minute)
        manual = bool(opening.source == "manual" and opening.service_id)
        services = _SLOT_SERVICES(manual).rows(
            provider=opening.provider_id, minutes=minutes, service=opening.service_id
        )
        return cls(
            clinic,
            opening.provider_id,
            Provider.get_by_id(opening.provider_id).code,
            opening.starts_at,
            minutes,
            local.date(),
            start_minute,
            part_mask,
            tuple(s.id for s in services),
        )


def _slot_services(manual: bool) -> Any:
    """The provider's services that fit the slot (a manual opening's own service only)."""
    query = (
        Service.select(Service.id)
        .join(ProviderService, on=ProviderService.service == Service.id)
        .where(
            ProviderService.provider == param("provider"),
            Service.duration_minutes <= param("minutes"),
            Service.kind == "appointment",
        )
    )
    if manual:
        query = query.where(Service.id == param("service"))
    return query


# Every offer call derives its SlotShape: the services read with its SQL built once.
_SLOT_SERVICES = PreparedFamily(_slot_services)


@dataclass(frozen=True)
class _Terms:
    """The values a ranking query is built from: an opening's, or (`symbolic`) the named
    placeholders of the prepared query that takes them (store/prepared.py)."""

    services: Any
    clinic: Any
    local_date: Any
    now: Any
    opening: Any
    day_bit: Any
    part_mask: Any
    start_minute: Any
    provider: Any  # the provider's id as entry.provider_ids holds it (provider_key)

    @classmethod
    def of(cls, slot: SlotShape, opening_id: IdRef, now: dt.datetime) -> _Terms:
        day_bit = vocab.day_bit(vocab.DAYS[slot.local_date.weekday()])
        return cls(
            list(slot.service_ids),
            slot.clinic.id,
            slot.local_date,
            now,
            opening_id,
            day_bit,
            slot.part_mask,
            slot.start_minute,
            provider_key(slot.provider_id),
        )

    @classmethod
    def symbolic(cls, services: int) -> _Terms:
        names = [f.name for f in fields(cls)]
        # the provider's key is text whatever the context: TextField's converter keeps it so
        found = [param(n, Entry.provider_ids) if n == "provider" else param(n) for n in names[1:]]
        return cls(param("services", size=services), *found)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _flags(terms: _Terms) -> dict[str, Any]:
    """SQL expressions (1/0) for each soft rule."""
    provider_ok = listed_takes_provider(terms.provider)  # from the entry's own row
    day_ok = (Entry.preferred_days == 0) | (Entry.preferred_days.bin_and(terms.day_bit) != 0)
    parts = Entry.preferred_time_slots.bin_and(7)
    part_ok = (
        (parts == 0)
        | (Entry.preferred_time_slots.bin_and(ANYTIME_BIT) != 0)
        | (Entry.preferred_time_slots.bin_and(terms.part_mask) != 0)
    )
    window_ok = Entry.preferred_time_start.is_null() | (
        (Entry.preferred_time_start <= terms.start_minute)
        & (Entry.preferred_time_end >= Service.duration_minutes + terms.start_minute)
    )

    def as_int(cond: Any) -> Any:
        return Case(None, [(cond, 1)], 0)

    return {
        "provider_ok": as_int(provider_ok),
        "day_ok": as_int(day_ok),
        "time_ok": as_int(part_ok & window_ok),
        "exact": as_int(provider_ok & day_ok & part_ok & window_ok),
        "_exact": provider_ok & day_ok & part_ok & window_ok,
        # NOT (every soft rule), the same rows, written so that PostgreSQL guesses most rows
        # pass (`<> 0`, as takes_provider does): as a plain NOT it guessed 1 row in 17 and
        # gathered a service's every waiting entry in a bitmap to count 200 PARTIAL ones
        # (20 ms at 100,000 waiting entries), rather than walk its index to the 200th.
        "_partial": as_int(~(provider_ok & day_ok & part_ok & window_ok)) != 0,
    }


def _base(terms: _Terms, any_service: bool) -> Any:
    offered = Offer.select(Offer.entry).where(Offer.opening == terms.opening)
    skipped = OfferRanking.select(OfferRanking.entry).where(  # the desk's skips (fairness.py)
        OfferRanking.opening == terms.opening, OfferRanking.kind == "skip"
    )
    return (
        Entry.select()
        .join(Service)
        .switch(Entry)
        .where(
            Entry.service.in_(terms.services) if any_service else SQL("1 = 0"),
            Entry.status == vocab.WAITING,
            Entry.clinic == terms.clinic,
            Entry.date_range_start <= terms.local_date,
            Entry.date_range_end >= terms.local_date,
            Entry.expires_at.is_null() | (Entry.expires_at > terms.now),
            Entry.id.not_in(offered),
            Entry.id.not_in(skipped),
        )
    )


def _explain(
    entry: Any, fails: tuple[str, ...], slot: SlotShape, providers: list[str], waited: int
) -> str:
    zone = ZoneInfo(slot.clinic.time_zone)
    local = slot.starts_at.astimezone(zone)
    words = []
    if providers:
        wanted = " or ".join(providers)
        words.append(
            f"wants {wanted}, slot is with {slot.provider_code}"
            if "provider" in fails
            else f"prefers {wanted}"
        )
    days = vocab.from_mask(entry.preferred_days, vocab.DAYS)
    if days:
        short = " ".join(vocab.DAY_SHORT[d] for d in days)
        words.append(f"wants {short}, slot is {local:%a}" if "day" in fails else f"prefers {short}")
    parts = [
        PART_WORDS[p]
        for p in vocab.from_mask(entry.preferred_time_slots, vocab.TIME_SLOTS)
        if p in PART_WORDS
    ]
    if entry.preferred_time_start is not None:
        parts.append(f"{fmt_hhmm(entry.preferred_time_start)}-{fmt_hhmm(entry.preferred_time_end)}")
    if parts:
        wanted = " or ".join(parts)
        words.append(
            f"wants {wanted}, slot is {local:%H:%M}" if "time" in fails else f"prefers {wanted}"
        )
    words.append(f"{waited} day{'s' if waited != 1 else ''} waiting")
    words.append(f"priority {entry.priority}")
    return "; ".join(words)


COUNT_CAP = 200  # "200+" is all a desk needs to know; counting further costs a full scan


def _capped(query: Any) -> Any:
    """How many rows, stopping at COUNT_CAP (a capped subquery, so the scan stops too). On
    PostgreSQL the rows are walked in the (service, status, priority, created_at, id) index's
    order, as _ranked walks them: left to itself the planner read the table in its stored
    order, from the oldest rows (ended entries, or the dead versions a bulk change left), and
    counted 200 at 1,000,000 entries in 60-100 ms. SQLite already walks that index (an
    ORDER BY there would sort every match instead)."""
    capped = query.select(SQL("1")).limit(COUNT_CAP)
    if is_postgres():
        capped = capped.order_by(Entry.service, Entry.priority, Entry.created_at, Entry.id)
    return Entry.select(fn.COUNT(SQL("*"))).from_(capped.alias("capped"))


def _shaped_base(partial: bool, only: bool, services: int) -> tuple[Any, dict[str, Any]]:
    """The waiting rows one shape of query reads, with placeholders for every value, and the
    match flags over them: the counts and the ranked rows start from the same rows."""
    terms = _Terms.symbolic(services)
    flags = _flags(terms)
    base = _base(terms, services > 0)
    if only:
        base = base.where(Entry.id == param("only_entry"))
    if not partial:
        base = base.where(flags["_exact"])
    return base, flags


def _count_query(include_partial: bool, only: bool, services: int) -> Any:
    """EXACT rows and PARTIAL rows, each counted up to COUNT_CAP, in one statement (one round
    trip and one plan instead of two), with placeholders for every value: built once per
    shape, as _ranked_query is (building its SQL cost more CPU than the rest of the call)."""
    base, flags = _shaped_base(include_partial, only, services)
    columns = [_capped(base.where(flags["_exact"]))]
    if include_partial:
        columns.append(_capped(base.where(flags["_partial"])))
    return Select(columns=columns)


_COUNTS = PreparedFamily(lambda shape: _count_query(*shape))


def _counts(terms: _Terms, only_entry: Any, include_partial: bool) -> tuple[int, int]:
    """EXACT rows and all rows, each match type counted up to COUNT_CAP."""
    shape = (include_partial, only_entry is not None, len(terms.services))
    row = _COUNTS(shape).cursor(**terms.values(), only_entry=only_entry).fetchone()
    exact = row[0] or 0
    partial = (row[1] or 0) if include_partial else 0
    return exact, exact + partial


def _ranked_query(exact: bool, claim: bool, only: bool, partial: bool, services: int) -> Any:
    """One service's top rows of one match type, with placeholders for every value: built
    once per shape (its SQL cost more to build than to run, twice per offer call)."""
    base, flags = _shaped_base(partial, only, services)
    match = flags["_exact"] if exact else flags["_partial"]
    # An EXACT row passes every soft rule: its flags are constants, not CASEs to build and run.
    shown = (
        [SQL("1"), SQL("1"), SQL("1"), SQL("1")]
        if exact
        else [SQL("0"), flags["provider_ok"], flags["day_ok"], flags["time_ok"]]
    )
    query = (
        base.where(Entry.service == param("service"), match)
        .select(Entry.id, *shown, Entry.priority, Entry.created_at)
        .order_by(Entry.priority, Entry.created_at, Entry.id)
        .limit(param("limit"))
    )
    if claim:
        query = locked(query, skip_locked=True, of=Entry)
    return query.tuples()


_RANKED = PreparedFamily(lambda shape: _ranked_query(*shape))


def _ranked(
    terms: _Terms, only_entry: Any, partial: bool, exact: bool, limit: int, claim: bool
) -> list[tuple[Any, ...]]:
    """Top `limit` rows of one match type. Each service's waiting entries are walked in queue
    order on the (service, status, priority, created_at, id) index, so the scan stops after
    `limit` matches; the per-service runs are merged here. With `claim` (PostgreSQL) each row
    is locked as it is read and rows another transaction holds are passed over (`FOR UPDATE
    OF entry SKIP LOCKED`): the walk goes on to the next free entry, and an entry another
    desk offered meanwhile is re-checked (no longer waiting) rather than returned."""
    rows: list[tuple[Any, ...]] = []
    shape = (exact, claim, only_entry is not None, partial, len(terms.services))
    query = _RANKED(shape)
    values = terms.values()
    for service_id in terms.services:
        rows.extend(query.rows(**values, service=service_id, only_entry=only_entry, limit=limit))
    rows.sort(key=lambda r: (r[5], r[6], str(r[0])))
    return rows[:limit]  # (id, exact, provider_ok, day_ok, time_ok, priority, created_at)


_DETAILS = PreparedFamily(
    lambda n: (
        Entry.select(
            Entry.id,
            Entry.priority,
            Entry.created_at,
            Entry.preferred_days,
            Entry.preferred_time_slots,
            Entry.preferred_time_start,
            Entry.preferred_time_end,
            Client.id.alias("client_id"),
            Client.first_name.alias("first_name"),
            Client.last_name.alias("last_name"),
            Client.phone.alias("phone"),
            Client.email.alias("email"),
            Service.code.alias("service_code"),
        )
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(Entry.id.in_(param("ids", size=n)))
        .namedtuples()
    )
)
_PREFS = PreparedFamily(
    lambda n: (
        EntryProvider.select(EntryProvider.entry, Provider.code)
        .join(Provider)
        .where(EntryProvider.entry.in_(param("ids", size=n)))
        .order_by(Provider.code)
        .tuples()
    )
)


_IN_RANGE_SQL: dict[tuple[bool, int], str] = {}


def _any_in_range(terms: _Terms) -> bool:
    """Whether any waiting entry of the opening's services has a date range that holds the
    slot's day: a hard rule every candidate passes. When none does (an opening months
    ahead, or on days nobody asked for) the ranked scans and the counts each walk every
    waiting entry of the service in queue order, reading each table row for its dates
    (five walks: 2 s on SQLite at 1,000,000 entries, 20 ms on PostgreSQL at 430,000); this
    reads the `stats demand` covering index (models.DEMAND_INDEX: the dates are in it) and
    stops at the first entry in range, so it costs a few index rows when candidates exist
    (24 ms and 6 ms when none do). It only says "none" when there are none: the other hard
    rules (expiry, earlier offers) are left to the ranking. The finder's call asks it (with
    counts); an offer call goes straight to the ranking, whose walk the claim needs anyway."""
    key = (is_postgres(), len(terms.services))
    sql = _IN_RANGE_SQL.get(key)
    if sql is None:
        mark = "%s" if key[0] else "?"
        # status written out (not a parameter), so the partial index serves the query
        source = "entry" if key[0] else f"entry INDEXED BY {DEMAND_INDEX}"
        marks = ", ".join([mark] * key[1]) or "NULL"
        sql = _IN_RANGE_SQL[key] = (
            f"SELECT 1 FROM {source} WHERE clinic_id = {mark} AND service_id IN ({marks}) "
            f"AND status = '{vocab.WAITING}' AND date_range_start <= {mark} "
            f"AND date_range_end >= {mark} LIMIT 1"
        )
    day = Entry.date_range_start.db_value(terms.local_date)
    params = (
        Entry.clinic.db_value(terms.clinic),
        *(Entry.service.db_value(s) for s in terms.services),
        day,
        day,
    )
    return database.execute_sql(sql, params).fetchone() is not None


def _ranking(
    opening: Opening,
    slot: SlotShape,
    limit: int,
    include_partial: bool,
    only_entry: Any,
    claim: bool,
    now: dt.datetime,
) -> tuple[_Terms, list[tuple[Any, ...]]]:
    """The ranked rows: EXACT first, then PARTIAL up to `limit` (see `candidates`)."""
    terms = _Terms.of(slot, opening.id, now)
    exact_rows = _ranked(terms, only_entry, include_partial, True, limit, claim)
    partial_rows = []
    if include_partial and len(exact_rows) < limit:
        partial_rows = _ranked(
            terms, only_entry, include_partial, False, limit - len(exact_rows), claim
        )
    return terms, exact_rows + partial_rows


def _failed(provider_ok: Any, day_ok: Any, time_ok: Any) -> tuple[str, ...]:
    return tuple(
        name
        for name, ok in (("provider", provider_ok), ("day", day_ok), ("time", time_ok))
        if not ok
    )


@dataclass(frozen=True)
class Fit:
    """One ranked entry as the fairness record keeps it: no name, contact or explanation."""

    entry_id: IdRef
    match_type: str
    fails: tuple[str, ...]
    priority: int


def fits(opening: Opening, limit: int, slot: SlotShape | None = None) -> list[Fit]:
    """The ranking `candidates` gives (EXACT and PARTIAL, uncounted), without reading the
    names, contacts and preferences a page shows: the fairness record of every offer call
    only keeps ids, match types and failed preferences."""
    if limit < 1 or limit > 500:
        raise ValidationError("limit must be 1-500", field="limit")
    slot = slot or SlotShape.of(opening)
    _, ranked = _ranking(opening, slot, limit, True, None, False, clock.now())
    return [
        Fit(row[0], vocab.EXACT if row[1] else vocab.PARTIAL, _failed(*row[2:5]), row[5])
        for row in ranked
    ]


def candidates(
    opening: Opening,
    limit: int = 20,
    include_partial: bool = True,
    only_entry: Any = None,
    *,
    claim: bool = False,
    count: bool = True,
    slot: SlotShape | None = None,
) -> CandidateList:
    """Ranked candidates for an opening: EXACT first, then priority, longest wait, id.
    `claim` (inside the caller's transaction, about to offer): on PostgreSQL the ranked
    entries are locked and those another desk is offering right now are skipped, so desks
    offering at once each get the next free candidates (`_ranked`); SQLite's write lock
    already runs such transactions one at a time. Without `count` (a caller that only
    offers) the totals are not counted (two capped scans): they are the items' own numbers.
    `slot`: the opening's SlotShape, when the caller (one offer call) already derived it."""
    if limit < 1 or limit > 500:
        raise ValidationError("limit must be 1-500", field="limit")
    now = clock.now()
    slot = slot or SlotShape.of(opening)
    if count and only_entry is None and not _any_in_range(_Terms.of(slot, opening.id, now)):
        return CandidateList(opening.id, [], 0, 0)  # nobody's dates hold the day (the finder)
    terms, ranked = _ranking(opening, slot, limit, include_partial, only_entry, claim, now)
    exact_rows = [row for row in ranked if row[1]]
    if count:
        exact_total, total = _counts(terms, only_entry, include_partial)
    else:
        exact_total, total = len(exact_rows), len(ranked)
    if not ranked:
        return CandidateList(opening.id, [], total, exact_total)
    ids = [row[0] for row in ranked]
    # only what the page shows: whole models cost ~15 ms for 50
    details: dict[Any, Any] = {e.id: e for e in _DETAILS(len(ids)).rows(ids=ids)}
    prefs: dict[Any, list[str]] = {}
    for entry_id, code in _PREFS(len(ids)).rows(ids=ids):
        prefs.setdefault(entry_id, []).append(code)
    items = []
    for entry_id, exact, provider_ok, day_ok, time_ok, *_ in ranked:
        entry = details[entry_id]
        fails = _failed(provider_ok, day_ok, time_ok)
        waited = days_waited(now, entry.created_at)
        items.append(
            Candidate(
                entry.id,
                vocab.EXACT if exact else vocab.PARTIAL,
                fails,
                entry.priority,
                waited,
                entry.client_id,
                f"{entry.first_name} {entry.last_name}",
                entry.phone,
                entry.email,
                entry.service_code,
                _explain(entry, fails, slot, prefs.get(entry.id, []), waited),
            )
        )
    return CandidateList(opening.id, items, total, exact_total)


def notify_candidates(
    service_code: str, day: dt.date, clinic: Clinic | None = None
) -> dict[str, Any]:
    """Waiting entries for a service whose range and days include `day`, with contact details:
    who to tell when that day frees up."""
    clinic = clinic or get_clinic()
    service = Service.get_or_none(
        (Service.clinic == clinic) & (Service.code == str(service_code).upper())
    )
    if service is None:
        raise ValidationError(
            f"service {service_code!r} is not a service of this clinic", field="service"
        )
    bit = vocab.day_bit(vocab.DAYS[day.weekday()])
    now = clock.now()
    rows = (
        Entry.select(Entry.id, Client)
        .join(Client)
        .where(
            Entry.service == service,
            Entry.status == vocab.WAITING,
            Entry.date_range_start <= day,
            Entry.date_range_end >= day,
            (Entry.preferred_days == 0) | (Entry.preferred_days.bin_and(bit) != 0),
            Entry.expires_at.is_null() | (Entry.expires_at > now),
        )
        .order_by(Entry.priority, Entry.created_at, Entry.id)
    )
    found = [
        {
            "id": str(e.id),
            "client": {
                "id": str(e.client.id),
                "first_name": e.client.first_name,
                "last_name": e.client.last_name,
                "email": e.client.email,
                "phone": e.client.phone,
            },
        }
        for e in rows
    ]
    return {
        "clients": found,
        "message": f"Found {len(found)} clients to notify about availability on {day.isoformat()}",
    }
