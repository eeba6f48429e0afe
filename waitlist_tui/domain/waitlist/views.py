"""Entries as plain values for screens and the CLI, and their JSON shape (the contract)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.models import Entry, Provider
from waitlist_tui.domain.timeutil import days_waited, fmt_hhmm, iso


@dataclass(frozen=True)
class ClientBrief:
    id: uuid.UUID
    first_name: str
    last_name: str
    phone: str | None
    email: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class ServiceBrief:
    id: uuid.UUID
    code: str
    name: str
    duration_minutes: int


@dataclass(frozen=True)
class ProviderBrief:
    id: uuid.UUID
    code: str
    name: str


@dataclass(frozen=True)
class EntryView:
    id: uuid.UUID
    clinic_id: uuid.UUID
    status: str
    priority: int
    payment_type: str
    appointment_type: str
    client: ClientBrief
    service: ServiceBrief
    preferred_providers: tuple[ProviderBrief, ...]
    preferred_days: tuple[str, ...]
    preferred_time_slots: tuple[str, ...]
    preferred_time_start: str | None
    preferred_time_end: str | None
    date_range_start: dt.date
    date_range_end: dt.date
    notes: str
    expires_at: dt.datetime | None
    original_appointment_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status_changed_at: dt.datetime
    booked_at: dt.datetime | None
    created_by: str
    updated_by: str
    version: int
    self_joined: bool = False  # the client asked on the /join page (schema v12)
    keep_later_appointment: bool = False  # no knock-on release (schema v18)

    @classmethod
    def from_row(cls, row: tuple[Any, ...], providers: Sequence[ProviderBrief] = ()) -> EntryView:
        """A row of ENTRY_VIEW_FIELDS, then the client's and the service's brief columns."""
        brief = len(ENTRY_VIEW_FIELDS)
        days, slots, time_start, time_end = row[6:10]
        values: list[Any] = [  # one list: the fields' count is the dataclass's to check
            *row[:6],  # id .. appointment_type
            ClientBrief(*row[brief : brief + 5]),
            ServiceBrief(*row[brief + 5 : brief + 9]),
            tuple(providers),
            tuple(vocab.from_mask(days, vocab.DAYS)),
            tuple(vocab.from_mask(slots, vocab.TIME_SLOTS)),
            fmt_hhmm(time_start),
            fmt_hhmm(time_end),
            *row[10:brief],  # date_range_start .. keep_later_appointment
        ]
        values[-2:] = [bool(v) for v in values[-2:]]  # SQLite's raw rows hold 0/1
        return cls(*values)

    @classmethod
    def of(cls, entry: Entry, providers: Sequence[Provider | ProviderBrief]) -> EntryView:
        """`entry` must have client and service joined (or loadable)."""
        client, service = entry.client, entry.service
        return cls(
            id=entry.id,
            clinic_id=ids.fk_id(entry, "clinic"),
            status=entry.status,
            priority=entry.priority,
            payment_type=entry.payment_type,
            appointment_type=entry.appointment_type,
            client=ClientBrief(
                client.id, client.first_name, client.last_name, client.phone, client.email
            ),
            service=ServiceBrief(service.id, service.code, service.name, service.duration_minutes),
            preferred_providers=tuple(ProviderBrief(p.id, p.code, p.name) for p in providers),
            preferred_days=tuple(vocab.from_mask(entry.preferred_days, vocab.DAYS)),
            preferred_time_slots=tuple(
                vocab.from_mask(entry.preferred_time_slots, vocab.TIME_SLOTS)
            ),
            preferred_time_start=fmt_hhmm(entry.preferred_time_start),
            preferred_time_end=fmt_hhmm(entry.preferred_time_end),
            date_range_start=entry.date_range_start,
            date_range_end=entry.date_range_end,
            notes=entry.notes,
            expires_at=entry.expires_at,
            original_appointment_at=entry.original_appointment_at,
            created_at=entry.created_at,
            updated_at=entry.updated_at,
            status_changed_at=entry.status_changed_at,
            booked_at=entry.booked_at,
            created_by=entry.created_by,
            updated_by=entry.updated_by,
            version=entry.version,
            self_joined=bool(entry.self_joined),
            keep_later_appointment=bool(entry.keep_later_appointment),
        )

    @property
    def is_closed(self) -> bool:
        return self.status in vocab.CLOSED_STATUSES

    def waited_days(self, now: dt.datetime) -> int:
        """Days on the list: until now while active, until the status changed once closed.
        Subtracted as plain datetimes (timeutil.days_waited): a pendulum Interval per row
        was 6% of the queue's main-thread time on a search keystroke at 1,000,000 entries."""
        end = self.status_changed_at if self.is_closed else now
        return days_waited(end, self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "clinic_id": str(self.clinic_id),
            "client_id": str(self.client.id),
            "client": {
                "id": str(self.client.id),
                "first_name": self.client.first_name,
                "last_name": self.client.last_name,
                "phone": self.client.phone,
                "email": self.client.email,
            },
            "service": {
                "id": str(self.service.id),
                "code": self.service.code,
                "name": self.service.name,
                "duration_minutes": self.service.duration_minutes,
            },
            "status": self.status,
            "priority": self.priority,
            "payment_type": self.payment_type,
            "appointment_type": self.appointment_type,
            "appointment_duration": self.service.duration_minutes,
            "preferred_providers": [p.code for p in self.preferred_providers],
            "preferred_provider_details": [
                {"id": str(p.id), "code": p.code, "name": p.name} for p in self.preferred_providers
            ],
            "preferred_days": list(self.preferred_days),
            "preferred_time_slots": list(self.preferred_time_slots),
            "preferred_time_start": self.preferred_time_start,
            "preferred_time_end": self.preferred_time_end,
            "date_range_start": self.date_range_start.isoformat(),
            "date_range_end": self.date_range_end.isoformat(),
            "notes": self.notes,
            "expires_at": iso(self.expires_at),
            "original_appointment_at": iso(self.original_appointment_at),
            "created_at": iso(self.created_at),
            "created_at_epoch_ms": int(self.created_at.timestamp() * 1000),
            "updated_at": iso(self.updated_at),
            "status_changed_at": iso(self.status_changed_at),
            "booked_at": iso(self.booked_at),
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "version": self.version,
            "self_joined": self.self_joined,
            "keep_later_appointment": self.keep_later_appointment,
        }


# Entry's columns in the order EntryView.from_row reads them: the view's own fields, less the
# client, service and provider briefs (read from their tables).
ENTRY_VIEW_FIELDS = tuple(
    "clinic" if f.name == "clinic_id" else f.name
    for f in fields(EntryView)
    if f.name not in ("client", "service", "preferred_providers")
)
