"""Changing entries: a PATCH of the given fields, and the status changes a desk makes
(cancel, expire); booked and offered are set by the offers, never here.

Every change is one transaction with who did it and an audit row, checked against the
version the caller read (optimistic locking: a desk that lost the race gets a 4090).
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pendulum

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.errors import Conflict, Problems, ValidationError
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Entry, EntryProvider, Offer, Opening
from waitlist_tui.domain.waitlist.entry_input import (
    check_range,
    check_window,
    normalize_keys,
    parse_fields,
)
from waitlist_tui.domain.waitlist.reading import get
from waitlist_tui.domain.waitlist.refs import CLOSED, entry_row, resolve_providers, resolve_service
from waitlist_tui.domain.waitlist.views import EntryView


def _sent_offer_slots(entry: Entry) -> list[pendulum.DateTime]:
    """Slot starts of the entry's live offers: a new date range must still hold them."""
    rows = (
        Opening.select(Opening.starts_at)
        .join(Offer)
        .where((Offer.entry == entry) & (Offer.status == vocab.OFFER_SENT))
    )
    return [r.starts_at for r in rows]


def update(entry_id: IdRef, payload: Any, actor: str) -> EntryView:
    """PATCH: only the given fields change. `version` (optional) must be the one read."""
    changed_id, _ = change(entry_id, payload, actor)
    return get(changed_id)


def change(entry_id: IdRef, payload: Any, actor: str) -> tuple[uuid.UUID, bool]:
    """`update` without reading the view back: (the entry's id, whether a row changed). An
    import's "update" needs no more (a view is two more queries a row)."""
    data = normalize_keys(payload, partial=True)
    for key in ("client", "client_id"):
        if key in data:
            raise ValidationError(
                f"{key}: the client of an entry cannot be changed; cancel it and add a new entry",
                field=key,
            )
    now = clock.now()
    with database.atomic():
        entry = entry_row(entry_id, lock=True)
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
            if service.id != ids.fk_id(entry, "service"):
                new["service"] = service
                new.setdefault("appointment_type", service.appointment_type)
        links = EntryProvider.select().where(EntryProvider.entry == entry)  # its backref
        old_providers = [link.provider for link in links]
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
            return entry.id, False
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
    return entry.id, True


def _end_sent_offers(entry: Entry, cause: str, actor: str, now: pendulum.DateTime) -> None:
    """The entry closed or changed under its live offer: the one way an offer ends
    (offers.end_offer) tells the client and moves a SEQUENTIAL opening on."""
    from waitlist_tui.domain.fill.offers import end_entry_offers  # offers + matching: on use only

    end_entry_offers(entry.id, cause, actor, now)


def cancel(entry_id: IdRef, actor: str, version: int | None = None, reason: str = "") -> EntryView:
    """The client no longer wants a slot; a sent offer of theirs is rescinded with it."""
    patch: dict[str, Any] = {"status": vocab.CANCELLED}
    if version is not None:
        patch["version"] = version
    if reason:
        current = get(entry_id)
        patch["notes"] = (current.notes + "\n" if current.notes else "") + f"Cancelled: {reason}"
    return update(entry_id, patch, actor)
