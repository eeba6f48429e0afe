"""Reading the audit trail: filters for `audit list` and an entry's history on the desk.

An entry's trail is its own rows and those of what belongs to it: its offers, its
appointments, the messages that told its offers and the replies that answered them. A
client's trail adds the client row, every entry of theirs, their class seats and every
message to or from them. Reads only."""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pendulum
from peewee import Expression

from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.models import (
    Appointment,
    AuditEvent,
    Client,
    Enrolment,
    Entry,
    InboundMessage,
    Offer,
    OutboxMessage,
)
from waitlist_tui.domain.timeutil import iso, local_to_utc, parse_date

MAX_LIMIT = 5000


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "changes": self.changes,
        }

    def summary(self, width: int = 200) -> str:
        """The changes on one line: `field: old -> new`, shortened to `width`."""
        parts = []
        for name, value in (self.changes or {}).items():
            if isinstance(value, list) and len(value) == 2:
                old, new = (_short(v) for v in value)
                same = old in (None, "")
                parts.append(f"{name}: {new}" if same else f"{name}: {old} -> {new}")
            else:
                parts.append(f"{name}: {_short(value)}")
        text = "; ".join(parts)
        return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: Any) -> Any:
    """An id as the desk types it (its first 8 characters); anything else as it is."""
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return value[:8]
    return value


# The object ids whose audit rows make a trail, by the object type their rows name: the
# audit table's index is (object_type, object_id, at), so a trail is read by type and id.
Objects = dict[str, set[str]]


def _chunks(ids: list[Any], size: int = 500) -> list[list[Any]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def objects_of_entries(entry_ids: list[uuid.UUID]) -> Objects:
    """These entries' ids and those of their offers and appointments, the messages that told
    their offers and the replies that answered them."""
    found: Objects = {"entry": {str(i) for i in entry_ids}}
    for part in _chunks(entry_ids):
        offer_ids = [str(o.id) for o in Offer.select(Offer.id).where(Offer.entry.in_(part))]
        found.setdefault("offer", set()).update(offer_ids)
        found.setdefault("appointment", set()).update(
            str(a.id) for a in Appointment.select(Appointment.id).where(Appointment.entry.in_(part))
        )
        if offer_ids:
            found.setdefault("message", set()).update(
                str(m.id)
                for m in OutboxMessage.select(OutboxMessage.id).where(
                    OutboxMessage.ref_type == "offer", OutboxMessage.ref_id.in_(offer_ids)
                )
            )
            found.setdefault("inbound", set()).update(
                str(r.id)
                for r in InboundMessage.select(InboundMessage.id).where(
                    InboundMessage.offer_id.in_(offer_ids)
                )
            )
    return found


def entry_objects(entry_id: uuid.UUID) -> Objects:
    """The objects whose audit rows make an entry's trail."""
    return objects_of_entries([entry_id])


def client_objects(client_id: uuid.UUID) -> Objects:
    """The objects whose audit rows make a client's trail."""
    entry_ids = [e.id for e in Entry.select(Entry.id).where(Entry.client == client_id)]
    found = objects_of_entries(entry_ids)
    found["client"] = {str(client_id)}
    found["enrolment"] = {
        str(e.id) for e in Enrolment.select(Enrolment.id).where(Enrolment.client == client_id)
    }
    found.setdefault("message", set()).update(
        str(m.id)
        for m in OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.client == client_id)
    )
    found.setdefault("inbound", set()).update(
        str(r.id)
        for r in InboundMessage.select(InboundMessage.id).where(InboundMessage.client == client_id)
    )
    return found


def conditions(objects: Objects) -> list[Expression]:
    """One condition per object type and chunk of ids, each served by the audit index."""
    return [
        (AuditEvent.object_type == kind) & AuditEvent.object_id.in_(part)
        for kind, found in sorted(objects.items())
        for part in _chunks(sorted(found))
    ]


def rows_of(objects: Objects) -> list[Any]:
    """The audit rows (models) of these objects."""
    rows: list[Any] = []
    for condition in conditions(objects):
        rows.extend(AuditEvent.select().where(condition))
    return rows


def _any_of(objects: Objects) -> Expression:
    found = conditions(objects)
    if not found:
        return AuditEvent.id < 0  # nothing
    return reduce(operator.or_, found)


def _bound(value: Any, field: str, end: bool) -> dt.datetime:
    """A day (YYYY-MM-DD, the clinic's) or an instant, as UTC: a day's start, or for the end
    of a period the start of the next day."""
    text = str(value).strip()
    if len(text) == 10:
        day = parse_date(text, field) + dt.timedelta(days=1 if end else 0)
        return local_to_utc(
            dt.datetime(day.year, day.month, day.day), get_clinic().time_zone, field
        )
    try:
        parsed = pendulum.parse(text, tz=get_clinic().time_zone)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise ValidationError(
            f"{field} must be a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM, got {text!r}",
            field=field,
        ) from None
    if not isinstance(parsed, pendulum.DateTime):
        raise ValidationError(f"{field} must be a date or a time", field=field)
    return parsed.in_timezone("UTC")


def list_events(
    *,
    entry: ids.IdRef | None = None,
    client: ids.IdRef | None = None,
    staff: str | None = None,
    kind: str | None = None,
    start: Any = None,
    end: Any = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditRow]:
    """Audit rows matching every filter given. `kind` is an action (`entry.update`), its
    first word (`entry`, `message`) or an object type; `start`/`end` days or times, the end
    day included."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1-{MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    where: list[Expression] = []
    if entry is not None:
        found = ids.resolve(Entry, entry, "entry", field="entry")
        where.append(_any_of(entry_objects(found.id)))
    if client is not None:
        person = ids.resolve(Client, client, "client", field="client")
        where.append(_any_of(client_objects(person.id)))
    if staff:
        where.append(AuditEvent.actor == staff.strip())
    if kind:
        kind = kind.strip()
        where.append(
            (AuditEvent.action == kind)
            | AuditEvent.action.startswith(f"{kind}.")
            | (AuditEvent.object_type == kind)
        )
    if start is not None:
        where.append(AuditEvent.at >= _bound(start, "from", end=False))
    if end is not None:
        where.append(AuditEvent.at < _bound(end, "to", end=True))
    query = AuditEvent.select()
    if where:
        query = query.where(*where)
    order = (
        (AuditEvent.at.desc(), AuditEvent.id.desc())
        if newest_first
        else (AuditEvent.at, AuditEvent.id)
    )
    rows = query.order_by(*order).limit(limit).offset(offset)
    return [
        AuditRow(r.id, r.at, r.actor, r.action, r.object_type, r.object_id, r.changes or {})
        for r in rows
    ]


def manager_trail(viewer: str, **filters: Any) -> list[AuditRow]:
    """`list_events` for the desk's audit screen: refused (4030) unless `viewer` is a
    manager (access/roles.py: any desk when no staff account exists)."""
    from waitlist_tui.domain.access import roles

    roles.require_manager(viewer, "the audit trail")
    return list_events(**filters)


def entry_history(entry_id: ids.IdRef, limit: int = 500) -> list[AuditRow]:
    """An entry's trail, oldest first (the desk's history view)."""
    return list_events(entry=entry_id, limit=limit, newest_first=False)
