"""Adding entries: one new waiting entry, a batch (all or nothing), or an imported one as it
was exported.

Every write is one transaction that stores who did it and one audit row; a rejected call
raises before anything is written or rolls the transaction back, so it changes no row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clients import (
    ClientInput,
    attach_or_create,
    find_or_create,
    parse_client,
)
from waitlist_tui.domain.catalog.clinics import default_payment_type, get_clinic
from waitlist_tui.domain.errors import NotFound, Problems, ValidationError
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Entry,
    EntryProvider,
    Provider,
    Service,
)
from waitlist_tui.domain.waitlist.entry_input import (
    check_range,
    check_window,
    normalize_keys,
    parse_fields,
)
from waitlist_tui.domain.waitlist.reading import get
from waitlist_tui.domain.waitlist.refs import resolve_providers, resolve_service
from waitlist_tui.domain.waitlist.views import EntryView


def _require_enabled(clinic: Clinic) -> None:
    """A clinic that switched its waitlist off takes no new entries (imports included)."""
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
    return get(add(payload, actor, clinic, restored).id)


@dataclass
class Prepared:
    """An entry checked and resolved but not written: its column values (the client's aside),
    its stamps, its preferred providers, and its client as given (details to find or create,
    or a reference to an existing client)."""

    values: dict[str, Any]
    stamps: dict[str, Any]
    providers: list[Provider]
    client_input: ClientInput | None
    client_ref: Any  # the payload's client_id when it names one


class Refs:
    """How a payload's service and provider references are resolved: from the database each
    time (one entry at a time); an import passes one that remembers (importing.py)."""

    def service(self, clinic: Clinic, ref: Any) -> Service:
        return resolve_service(clinic, ref)

    def providers(self, clinic: Clinic, service: Service, refs: Any) -> list[Provider]:
        return resolve_providers(clinic, service, refs)


REFS = Refs()


def add(
    payload: Any,
    actor: str,
    clinic: Clinic | None = None,
    restored: Restored | None = None,
    self_joined: bool = False,
) -> Entry:
    """`create` without reading the view back: the row as written. An import keeps only its
    id, and a view costs two more queries a row (the joined read and its providers). A
    client's own request from the /join page (`self_joined`) is written `pending`, marked,
    and attached to an existing client only by name and phone (clients.attach_or_create)."""
    clinic = clinic or get_clinic()
    with database.atomic():
        ready = prepare(payload, actor, clinic, restored)
        if self_joined:
            ready.values.update(status=vocab.PENDING, self_joined=True)
        if ready.client_input is not None and self_joined:
            client, _ = attach_or_create(clinic, ready.client_input, actor)
        elif ready.client_input is not None:
            client, _ = find_or_create(clinic, ready.client_input, actor)
        else:
            client = client_by_ref(clinic, ready.client_ref)
        values = {**ready.values, "client": client}
        entry = Entry.create(**values, **ready.stamps)
        for provider in ready.providers:
            EntryProvider.create(entry=entry, provider=provider)
        audit.record(
            actor,
            "entry.create" if restored is None else "entry.import",
            "entry",
            entry.id,
            audit_changes(values, ready.providers, ready.stamps if restored else None),
        )
    return entry


def audit_changes(
    values: dict[str, Any], providers: list[Provider], restored_stamps: dict[str, Any] | None
) -> dict[str, Any]:
    """What a new entry's audit row holds: its values (the clinic's left out), its providers'
    codes, and an imported one's kept stamps."""
    logged = {k: v for k, v in values.items() if k != "clinic"}
    logged["preferred_providers"] = [p.code for p in providers]
    if restored_stamps is not None:
        logged.update({k: v for k, v in restored_stamps.items() if k != "id"})
    changes = {}  # audit.diff({}, logged), without comparing each value with nothing
    for key, value in logged.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool:  # most values: as they are
            changes[key] = [None, value]
            continue
        shown = audit.plain(_loggable(value))
        if shown is not None:
            changes[key] = [None, shown]
    return changes


def client_by_ref(clinic: Clinic, ref: Any) -> Client:
    try:
        return ids.resolve(
            Client,
            ref,
            "client",
            field="client_id",
            query=Client.select().where(Client.clinic == clinic),
        )
    except (NotFound, ValidationError):
        raise ValidationError(
            f"client_id: {ref!r} is not a client of this clinic", field="client_id"
        ) from None


def prepare(
    payload: Any,
    actor: str,
    clinic: Clinic,
    restored: Restored | None = None,
    refs: Refs = REFS,
) -> Prepared:
    """Every check of a new entry, nothing written: the field errors at once (the first
    raised with the others in its data), then the service and providers resolved."""
    _require_enabled(clinic)
    data = normalize_keys(payload, partial=False)
    # Each field on its own, then the rules between fields whose parts read well: every
    # error at once, the first raised with the others in its data.
    problems = Problems()
    try:  # all at once: the same values when every field is good (most rows of an import)
        fields = parse_fields(data, clinic.time_zone)
    except ValidationError:
        fields = {}
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
    service = refs.service(clinic, data["service"])
    providers = refs.providers(clinic, service, data.get("preferred_providers"))
    values = {
        "clinic": clinic,
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
    if fields.get("keep_later_appointment"):  # else the column's default (and no audit line)
        values["keep_later_appointment"] = True
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
    return Prepared(values, stamps, providers, client_input, data.get("client_id"))


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
    """A client or service as its id in the audit row (the row, not its repr)."""
    if isinstance(value, Client | Service):
        return str(value.id)
    return value
