"""Waitlist entries: create, get, list, update (PATCH) and cancel.

Every write is one transaction that stores who did it and one audit row; a rejected call
raises before anything is written or rolls the transaction back, so it changes no row.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from peewee import SQL, fn

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clients import (
    find_or_create,
    parse_client,
    search_condition,
    search_terms,
)
from waitlist_tui.domain.catalog.clinics import default_payment_type, get_clinic
from waitlist_tui.domain.errors import Conflict, NotFound, Problems, ValidationError
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database, plain_rows
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    EntryProvider,
    Offer,
    Opening,
    Provider,
    ProviderService,
    Service,
)
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.waitlist.entry_input import (
    MAX_REF,
    check_range,
    check_window,
    normalize_keys,
    parse_fields,
)
from waitlist_tui.domain.waitlist.views import ENTRY_VIEW_FIELDS, EntryView, ProviderBrief

NOT_FOUND = "waitlist request not found"
CLOSED = "waitlist request is closed"
MAX_PAGE = 500
SEARCH_IDS_MAX = 2000  # more matching clients than this: let SQL join instead of a literal list
DENSE_TERM_LEN = 2  # search words all shorter than this match most clients: walk the entries


# --- references -------------------------------------------------------------------------------


def _by_code_or_id(model: Any, clinic: Clinic, ref: Any, what: str, field_name: str) -> Any:
    text = text_value(ref, field_name, max_len=MAX_REF)
    if not text:
        raise ValidationError(f"{field_name} is required", field=field_name)
    found = model.get_or_none((model.clinic == clinic) & (model.code == text.upper()))
    if found is not None:
        return found
    try:
        return ids.resolve(
            model, text, what, field=field_name, query=model.select().where(model.clinic == clinic)
        )
    except (NotFound, ValidationError):
        raise ValidationError(
            f"{field_name}: {text!r} is not a {what} of this clinic", field=field_name
        ) from None


def resolve_service(clinic: Clinic, ref: Any) -> Service:
    service = _by_code_or_id(Service, clinic, ref, "service", "service")
    if service.kind != "appointment":
        raise ValidationError(
            f"service: {service.code} is a class; use its event waitlist", field="service"
        )
    return service


def resolve_providers(clinic: Clinic, service: Service, refs: Any) -> list[Provider]:
    if refs is None:
        return []
    if isinstance(refs, str):
        refs = [r for r in refs.replace(";", ",").replace(" ", ",").split(",") if r]
    if not isinstance(refs, list | tuple):
        raise ValidationError(
            "preferred_providers must be a list of provider codes or ids",
            field="preferred_providers",
        )
    found: list[Provider] = []
    for ref in refs:
        provider = _by_code_or_id(Provider, clinic, ref, "provider", "preferred_providers")
        if provider not in found:
            found.append(provider)
    offering = set(
        ProviderService.select(ProviderService.provider)
        .where(ProviderService.service == service)
        .tuples()
    )
    for provider in found:
        if (provider.id,) not in offering:
            raise ValidationError(
                f"preferred_providers: {provider.code} does not offer {service.code}",
                field="preferred_providers",
            )
    return found


def _get_entry(entry_id: Any, *, lock: bool = False) -> Entry:
    query = locked(Entry.select()) if lock else Entry.select()
    try:
        return ids.resolve(Entry, entry_id, "waitlist request", query=query)
    except NotFound:
        raise NotFound(NOT_FOUND, field="id", data=None) from None


# --- reads ------------------------------------------------------------------------------------


def _providers_of(entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ProviderBrief]]:
    result: dict[uuid.UUID, list[ProviderBrief]] = defaultdict(list)
    if not entry_ids:
        return result
    columns = (EntryProvider.entry, Provider.id, Provider.code, Provider.name)
    query = (
        EntryProvider.select(*columns)
        .join(Provider)
        .where(EntryProvider.entry.in_(entry_ids))
        .order_by(Provider.code)
    )
    for entry_id, *provider in plain_rows(query, columns):
        result[entry_id].append(ProviderBrief(*provider))
    return result


def _views(entries: list[Entry]) -> list[EntryView]:
    providers = _providers_of([e.id for e in entries])
    return [EntryView.of(e, providers.get(e.id, [])) for e in entries]


# A page's columns in EntryView.from_row's order: read as tuples, a page builds without a
# model instance per entry, client and service (about a third of a queue page's time).
BRIEF_COLUMNS = (  # what a view shows of the client and of the service
    Client.id,
    Client.first_name,
    Client.last_name,
    Client.phone,
    Client.email,
    Service.id,
    Service.code,
    Service.name,
    Service.duration_minutes,
)
VIEW_COLUMNS = (*(getattr(Entry, name) for name in ENTRY_VIEW_FIELDS), *BRIEF_COLUMNS)


def _page_views(where: Any, order: tuple[Any, ...], limit: int, offset: int) -> list[EntryView]:
    query = (
        Entry.select(*VIEW_COLUMNS)
        .join(Client)
        .switch(Entry)
        .join(Service)
        .where(where)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    rows = plain_rows(query, VIEW_COLUMNS)
    providers = _providers_of([row[0] for row in rows])
    return [EntryView.from_row(row, providers.get(row[0], ())) for row in rows]


def _joined():
    """Entries with just the client and service columns a view shows (a page builds fast)."""
    return Entry.select(Entry, *BRIEF_COLUMNS).join(Client).switch(Entry).join(Service)


def get(entry_id: Any) -> EntryView:
    try:
        entry = ids.resolve(Entry, entry_id, "waitlist request", query=_joined())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    return _views([entry])[0]


def offers_detail(entry_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The entry's invites and the distinct openings they were for (`--include-offers`)."""
    from waitlist_tui.domain.waitlist.views import iso as _iso

    rows = (
        Offer.select(Offer, Opening, Provider)
        .join(Opening)
        .join(Provider)
        .where(Offer.entry == entry_id)
        .order_by(Offer.sent_at)
    )
    invites, openings = [], {}
    for offer in rows:
        opening = offer.opening
        invites.append(
            {
                "invite_id": str(offer.id),
                "waitlist_id": str(opening.id),
                "opening_id": str(opening.id),
                "status": offer.status,
                "match_type": offer.match_type,
                "slot_start": _iso(opening.starts_at),
                "slot_end": _iso(opening.ends_at),
                "sent_at": _iso(offer.sent_at),
                "expires_at": _iso(offer.expires_at),
                "responded_at": _iso(offer.responded_at),
            }
        )
        openings[opening.id] = {
            "id": str(opening.id),
            "provider_id": str(opening.provider.id),
            "provider": opening.provider.code,
            "slot_start": _iso(opening.starts_at),
            "slot_end": _iso(opening.ends_at),
            "status": opening.status,
            "workflow_type": opening.workflow,
        }
    return {"matched_invites": invites, "matched_waitlists": list(openings.values())}


@dataclass(frozen=True)
class EntryQuery:
    statuses: tuple[str, ...] = vocab.ACTIVE_STATUSES
    service: str | None = None
    provider: str | None = None
    client_id: str | None = None
    search: str | None = None
    on_date: dt.date | None = None
    sort: str = "priority"  # priority | wait | start | newest
    limit: int = 50
    offset: int = 0
    count_cap: int | None = None  # count at most this many (the screens); None: exact (CLI)


SORTS = {
    "priority": (Entry.priority, Entry.created_at, Entry.id),
    "wait": (Entry.created_at, Entry.id),
    "start": (Entry.date_range_start, Entry.priority, Entry.created_at, Entry.id),
    "newest": (Entry.created_at.desc(), Entry.id.desc()),
}


@dataclass
class Page:
    items: list[EntryView]
    total: int
    limit: int
    offset: int
    extra: dict[str, Any] = field(default_factory=dict)
    # entry id -> when its live (sent) offer expires, for the offered entries of the page
    offer_expires: dict[uuid.UUID, dt.datetime] = field(default_factory=dict)
    # entry id -> the slot of that offer: (start, provider code), for the detail pane
    offer_slots: dict[uuid.UUID, tuple[dt.datetime, str]] = field(default_factory=dict)
    total_capped: bool = False  # more than `total` match: the query's count_cap was reached

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


def expand_statuses(values: Any) -> tuple[str, ...]:
    """Our lowercase statuses or the API names (ACTIVE = waiting + offered); 'all' for every one."""
    result: list[str] = []
    for value in values or ():
        text = str(value).strip()
        if text.lower() == "all":
            return vocab.ENTRY_STATUSES
        if text.upper() in vocab.API_STATUS:
            result.extend(vocab.API_STATUS[text.upper()])
        elif text.lower() in vocab.ENTRY_STATUSES:
            result.append(text.lower())
        else:
            raise ValidationError(
                f"status {value!r} is not one of "
                f"{', '.join(vocab.ENTRY_STATUSES)} (or ACTIVE, FULFILLED)",
                field="status",
            )
    return tuple(dict.fromkeys(result))


def _id_list(values: list[Any]) -> SQL:
    """`('…', '…')`: ids read back from the database written into the SQL as literals. As
    parameters, peewee handled each one several times per query: with a few hundred matching
    clients that was a third of a search. Only hex digits and dashes get through."""
    texts = [str(value) for value in values]
    if not all(_ID_TEXT.fullmatch(text) for text in texts):
        raise ValueError("an id read from the database is not a uuid")
    return SQL("(" + ", ".join(f"'{text}'" for text in texts) + ")")


_ID_TEXT = re.compile(r"[0-9a-fA-F-]{32,36}")


def list_entries(q: EntryQuery, clinic: Clinic | None = None) -> Page:
    """One page and the total count; never the whole table."""
    clinic = clinic or get_clinic()
    if not 1 <= q.limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1-{MAX_PAGE}", field="limit")
    if q.offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    if q.sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    conds = [Entry.clinic == clinic]
    if q.statuses:
        conds.append(
            Entry.status.in_(list(q.statuses))
            if len(q.statuses) > 1
            else Entry.status == q.statuses[0]
        )
    if q.service:
        conds.append(
            Entry.service == _by_code_or_id(Service, clinic, q.service, "service", "service")
        )
    if q.provider:
        provider = _by_code_or_id(Provider, clinic, q.provider, "provider", "provider")
        prefers = EntryProvider.select(EntryProvider.entry).where(
            (EntryProvider.entry == Entry.id) & (EntryProvider.provider == provider)
        )
        any_pref = EntryProvider.select(EntryProvider.entry).where(EntryProvider.entry == Entry.id)
        # Entries that would take this provider: they have no preference, or prefer them.
        # Most entries name no provider: asked first, one index probe settles them.
        conds.append(~fn.EXISTS(any_pref) | fn.EXISTS(prefers))
    if q.client_id:
        client = ids.resolve(
            Client,
            q.client_id,
            "client",
            field="client_id",
            query=Client.select().where(Client.clinic == clinic),
        )
        conds.append(Entry.client == client)
    if q.on_date:
        conds.append((Entry.date_range_start <= q.on_date) & (Entry.date_range_end >= q.on_date))
    text_cond = search_condition(q.search or "")
    walk = False  # the text is checked on each entry's client, walking entries in page order
    if text_cond is not None:
        found: list[Any] | None = None
        if max(len(term) for term in search_terms(q.search or "")) >= DENSE_TERM_LEN:
            # Scan the (smaller) client table once, then reach entries through their client
            # index. The match list is read once and reused by the count and the page.
            matching = Client.select(Client.id).where((Client.clinic == clinic) & text_cond)
            found = [row[0] for row in database.execute(matching.limit(SEARCH_IDS_MAX + 1))]
        walk = found is None or len(found) > SEARCH_IDS_MAX
        if walk:
            # Most clients match ("g", "555"): a page fills within a few rows of the queue's
            # own order, and the count stops at the cap when the caller gives one.
            conds.append(text_cond)
        else:  # an empty list renders as a false condition (PostgreSQL refuses `IN ()`)
            conds.append(Entry.client.in_(_id_list(found) if found else []))
    if q.service or q.client_id:
        conds.pop(0)  # the service or client was resolved in this clinic: it implies the clinic
    where = conds[0]
    for cond in conds[1:]:
        where &= cond
    cap = None
    if q.count_cap is not None and (walk or q.provider):
        # Only these counts read row by row (the others come from an index, exact and fast);
        # the cap is past the page asked for, so paging on keeps counting further.
        cap = q.offset + max(q.count_cap, q.limit)
    total, capped = _count(where, walk, cap)
    views = _page_views(where, SORTS[q.sort], q.limit, q.offset)
    offered = [v.id for v in views if v.status == vocab.OFFERED]
    live = live_offers(offered)
    return Page(
        views,
        total,
        q.limit,
        q.offset,
        offer_expires={k: expires for k, (expires, _, _) in live.items()},
        offer_slots={k: (start, provider) for k, (_, start, provider) in live.items()},
        total_capped=capped,
    )


def _count(where: Any, with_client: bool, cap: int | None) -> tuple[int, bool]:
    """The total, or `cap` and True once more than `cap` rows match (a capped count reads at
    most cap + 1 rows: a dense search stays fast)."""
    if cap is None:
        query = Entry.select(fn.COUNT(SQL("*")))  # COUNT(id) would read every row
        if with_client:
            query = query.join(Client)
        return query.where(where).scalar() or 0, False
    rows = Entry.select(SQL("1"))
    if with_client:
        rows = rows.join(Client)
    limited = rows.where(where).limit(cap + 1)
    seen = Entry.select(fn.COUNT(SQL("*"))).from_(limited.alias("capped")).scalar() or 0
    return (cap, True) if seen > cap else (seen, False)


def live_offers(
    entry_ids: list[uuid.UUID],
) -> dict[uuid.UUID, tuple[dt.datetime, dt.datetime, str]]:
    """Each entry's sent offer: (expires, slot start, provider code), for the queue's
    countdown column and the detail pane (which showed neither the slot nor its deadline)."""
    if not entry_ids:
        return {}
    rows = (
        Offer.select(Offer.entry, Offer.expires_at, Opening.starts_at, Provider.code)
        .join(Opening)
        .join(Provider)
        .where(Offer.entry.in_(entry_ids), Offer.status == vocab.OFFER_SENT)
        .tuples()
    )
    return {entry: (expires, start, code) for entry, expires, start, code in rows}


# --- writes -----------------------------------------------------------------------------------


def _require_enabled(clinic: Clinic) -> None:
    if not clinic.waitlist_enabled:
        raise ValidationError(
            "waitlist feature not configured for this organization", field="clinic"
        )


@dataclass(frozen=True)
class Restored:
    """What an import keeps of an exported entry besides its payload: its identity, its
    place in the queue (created_at ranks it) and where it stands. exchange.py checks it."""

    id: uuid.UUID
    status: str
    created_at: dt.datetime
    status_changed_at: dt.datetime
    updated_at: dt.datetime
    booked_at: dt.datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None
    version: int = 1


def create(
    payload: Any, actor: str, clinic: Clinic | None = None, restored: Restored | None = None
) -> EntryView:
    """A new waiting entry; or, from an import (`restored`), an exported one as it was."""
    clinic = clinic or get_clinic()
    _require_enabled(clinic)
    data = normalize_keys(payload, partial=False)
    # Each field on its own, then the rules between fields whose parts read well: every
    # error at once, the first raised with the others in its data.
    problems = Problems()
    fields: dict[str, Any] = {}
    for key in data:
        fields.update(problems.check(parse_fields, {key: data[key]}, clinic.time_zone) or {})
    if "service" not in data:
        problems.errors.append(ValidationError("service is required", field="service"))
    if "payment_type" not in fields:
        fields["payment_type"] = default_payment_type(clinic)
    data = {k: v for k, v in data.items() if not (k in ("client", "client_id") and v is None)}
    client_input = None
    if ("client" in data) == ("client_id" in data):
        problems.errors.append(
            ValidationError(
                "give either client (first_name, last_name, phone, email) or client_id",
                field="client",
            )
        )
    elif "client" in data:
        client_input = problems.check(parse_client, data["client"], clinic.region)
    today = clock.today(clinic.time_zone)
    start = fields.get("date_range_start", today)
    end = fields.get("date_range_end", start + dt.timedelta(days=clinic.max_span_days))
    # A restored row is history as it was exported: its range or expiry may have passed since
    # (the expire job closes it); refusing it would make a backup fail to load.
    live = restored is None
    if not problems.fields() & {"date_range_start", "date_range_end"}:
        problems.check(check_range, start, end, clinic.max_span_days)
        if end < today and live and "date_range_end" not in problems.fields():
            problems.errors.append(
                ValidationError("date_range_end is in the past", field="date_range_end")
            )
    if not problems.fields() & {"preferred_time_start", "preferred_time_end"}:
        problems.check(
            check_window, fields.get("preferred_time_start"), fields.get("preferred_time_end")
        )
    now = clock.now()
    if fields.get("expires_at") is not None and fields["expires_at"] <= now and live:
        problems.errors.append(
            ValidationError("expires_at must be in the future", field="expires_at")
        )
    problems.raise_any()
    with database.atomic():
        service = resolve_service(clinic, data["service"])
        providers = resolve_providers(clinic, service, data.get("preferred_providers"))
        if client_input is not None:
            client, _ = find_or_create(clinic, client_input, actor)
        else:
            try:
                client = ids.resolve(
                    Client,
                    data["client_id"],
                    "client",
                    field="client_id",
                    query=Client.select().where(Client.clinic == clinic),
                )
            except (NotFound, ValidationError):
                raise ValidationError(
                    f"client_id: {data['client_id']!r} is not a client of this clinic",
                    field="client_id",
                ) from None
        values = {
            "clinic": clinic,
            "client": client,
            "service": service,
            "status": vocab.WAITING,
            "priority": fields.get("priority", 3),
            "payment_type": fields["payment_type"],
            "appointment_type": fields.get("appointment_type") or service.appointment_type,
            "preferred_days": fields.get("preferred_days", 0),
            "preferred_time_slots": fields.get("preferred_time_slots", 0),
            "preferred_time_start": fields.get("preferred_time_start"),
            "preferred_time_end": fields.get("preferred_time_end"),
            "date_range_start": start,
            "date_range_end": end,
            "notes": fields.get("notes", ""),
            "expires_at": fields.get("expires_at"),
            "original_appointment_at": fields.get("original_appointment_at"),
        }
        stamps: dict[str, Any] = {
            **Entry.stamps(actor, now, new=True),
            "status_changed_at": now,
        }
        if restored is not None:
            values["status"] = restored.status
            stamps = {
                "id": restored.id,
                "created_at": restored.created_at,
                "updated_at": restored.updated_at,
                "status_changed_at": restored.status_changed_at,
                "booked_at": restored.booked_at,
                "created_by": restored.created_by or actor,
                "updated_by": restored.updated_by or actor,
                "version": restored.version,
            }
        entry = Entry.create(**values, **stamps)
        for provider in providers:
            EntryProvider.create(entry=entry, provider=provider)
        logged = {k: v for k, v in values.items() if k != "clinic"}
        logged["preferred_providers"] = [p.code for p in providers]
        if restored is not None:
            logged.update({k: v for k, v in stamps.items() if k != "id"})
        audit.record(
            actor,
            "entry.create" if restored is None else "entry.import",
            "entry",
            entry.id,
            audit.diff({}, {k: _loggable(v) for k, v in logged.items()}),
        )
    return get(entry.id)


def create_many(payloads: list[Any], actor: str, clinic: Clinic | None = None) -> list[EntryView]:
    """All or nothing: one transaction; the first bad item is named by its position."""
    created = []
    with database.atomic():
        for i, item in enumerate(payloads, start=1):
            try:
                created.append(create(item, actor, clinic))
            except ValidationError as err:
                err.message = f"item {i}: {err.message}"
                raise
    return created


def _loggable(value: Any) -> Any:
    if isinstance(value, Client | Service):
        return str(value.id)
    return value


def _sent_offer_slots(entry: Entry) -> list[pendulum.DateTime]:
    rows = (
        Opening.select(Opening.starts_at)
        .join(Offer)
        .where((Offer.entry == entry) & (Offer.status == vocab.OFFER_SENT))
    )
    return [r.starts_at for r in rows]


def update(entry_id: Any, payload: Any, actor: str) -> EntryView:
    """PATCH: only the given fields change. `version` (optional) must be the one read."""
    data = normalize_keys(payload, partial=True)
    for key in ("client", "client_id"):
        if key in data:
            raise ValidationError(
                f"{key}: the client of an entry cannot be changed; cancel it and add a new entry",
                field=key,
            )
    now = clock.now()
    with database.atomic():
        entry = _get_entry(entry_id, lock=True)
        clinic = entry.clinic
        problems = Problems()  # each field's error, all at once (as create does)
        fields: dict[str, Any] = {}
        for key in data:
            fields.update(problems.check(parse_fields, {key: data[key]}, clinic.time_zone) or {})
        if not problems.fields() & {"date_range_start", "date_range_end"} and (
            "date_range_start" in fields or "date_range_end" in fields
        ):
            start = fields.get("date_range_start", entry.date_range_start)
            end = fields.get("date_range_end", entry.date_range_end)
            problems.check(check_range, start, end, clinic.max_span_days)
        if not problems.fields() & {"preferred_time_start", "preferred_time_end"}:
            problems.check(
                check_window,
                fields.get("preferred_time_start", entry.preferred_time_start),
                fields.get("preferred_time_end", entry.preferred_time_end),
            )
        problems.raise_any()
        if entry.status in vocab.CLOSED_STATUSES:
            raise Conflict(CLOSED, data={"status": entry.status})
        expected = fields.pop("version", entry.version)
        if expected != entry.version:
            raise Conflict(
                f"waitlist request was changed by someone else (now version "
                f"{entry.version}, yours {expected}); reload it and try again",
                data={"version": entry.version},
            )
        new: dict[str, Any] = {}
        status = fields.pop("status", None)
        if status in ("FULFILLED", vocab.BOOKED):
            raise ValidationError("status FULFILLED is set by accepting an offer", field="status")
        if status in ("CANCELLED", vocab.CANCELLED, "EXPIRED", vocab.EXPIRED):
            new.update(status=status.lower(), status_changed_at=now)
        elif status == vocab.OFFERED and entry.status != vocab.OFFERED:
            raise ValidationError("status offered is set by sending an offer", field="status")
        service = entry.service
        if "service" in data:
            service = resolve_service(clinic, data["service"])
            if service.id != entry.service_id:
                new["service"] = service
                new.setdefault("appointment_type", service.appointment_type)
        old_providers = [link.provider for link in entry.provider_links]
        providers = None
        if "preferred_providers" in data:
            providers = resolve_providers(clinic, service, data["preferred_providers"])
        elif "service" in new:
            providers = resolve_providers(clinic, service, [p.code for p in old_providers])
        new.update({k: v for k, v in fields.items() if getattr(entry, k) != v})
        start = new.get("date_range_start", entry.date_range_start)
        end = new.get("date_range_end", entry.date_range_end)
        if "date_range_start" in new or "date_range_end" in new:
            check_range(start, end, clinic.max_span_days)
            if end < clock.today(clinic.time_zone):
                raise ValidationError("date_range_end is in the past", field="date_range_end")
            zone = clinic.time_zone
            for slot in _sent_offer_slots(entry):
                if not start <= slot.astimezone(ZoneInfo(zone)).date() <= end:
                    raise ValidationError(
                        "active invites exist for this request", field="date_range_start"
                    )
        check_window(
            new.get("preferred_time_start", entry.preferred_time_start),
            new.get("preferred_time_end", entry.preferred_time_end),
        )
        old = {k: getattr(entry, k) for k in new}
        old = {k: (v.id if k == "service" else v) for k, v in old.items()}
        logged = {k: (v.id if k == "service" else v) for k, v in new.items()}
        if providers is not None and {p.id for p in providers} != {p.id for p in old_providers}:
            old["preferred_providers"] = [p.code for p in old_providers]
            logged["preferred_providers"] = [p.code for p in providers]
        else:
            providers = None
        if not logged:
            return get(entry.id)
        rows = (
            Entry.update_by(actor, now, **new, version=Entry.version + 1)
            .where(
                (Entry.id == entry.id)
                & (Entry.version == expected)
                & Entry.status.in_(list(vocab.ACTIVE_STATUSES))
            )
            .execute()
        )
        if rows != 1:
            raise Conflict("waitlist request was changed by someone else; reload it and try again")
        if providers is not None:
            EntryProvider.delete().where(EntryProvider.entry == entry).execute()
            for provider in providers:
                EntryProvider.create(entry=entry, provider=provider)
        if new.get("status") in (vocab.CANCELLED, vocab.EXPIRED):
            _end_sent_offers(entry, f"entry_{new['status']}", actor, now)
        elif "service" in new:  # the offer was for the old service: it cannot book the new one
            _end_sent_offers(entry, "entry_narrowed", actor, now)
        action = f"entry.{new['status']}" if "status" in new else "entry.update"
        audit.record(actor, action, "entry", entry.id, audit.diff(old, logged))
    return get(entry.id)


def _end_sent_offers(entry: Entry, cause: str, actor: str, now: pendulum.DateTime) -> None:
    """The entry closed or changed under its live offer: the one way an offer ends
    (offers.end_offer) tells the client and moves a SEQUENTIAL opening on."""
    from waitlist_tui.domain.fill.offers import end_entry_offers  # offers + matching: on use only

    end_entry_offers(entry.id, cause, actor, now)


def cancel(entry_id: Any, actor: str, version: int | None = None, reason: str = "") -> EntryView:
    """The client no longer wants a slot; a sent offer of theirs is rescinded with it."""
    patch: dict[str, Any] = {"status": vocab.CANCELLED}
    if version is not None:
        patch["version"] = version
    if reason:
        current = get(entry_id)
        patch["notes"] = (current.notes + "\n" if current.notes else "") + f"Cancelled: {reason}"
    return update(entry_id, patch, actor)
