"""Class and group session instances: their views with seat counts, the reads (upcoming,
one by id) and the checks and locks every seat write starts from.

Capacity holds whatever the number of desks racing: a seat write locks the instance row first
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite write transactions are BEGIN IMMEDIATE, so they
are serialised already) and only then counts the seats (`seats_free`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pendulum
from peewee import JOIN, SQL, Case, Function, Model, ModelSelect, fn

from waitlist_tui.domain import clock
from waitlist_tui.domain.classes.statuses import (
    ENROLLED,
    INVALID_INSTANCE,
    MAX_PAGE,
    OFFERED,
    OPEN_STATUSES,
    SCHEDULED,
    WAITLISTED,
)
from waitlist_tui.domain.errors import NotFound, Unprocessable, ValidationError
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import Clinic, Enrolment, EventInstance, Provider, Service
from waitlist_tui.domain.timeutil import iso


@dataclass(frozen=True)
class InstanceView:
    """One class or group session with its seat counts."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    service_id: uuid.UUID
    service_code: str
    service_name: str
    provider_id: uuid.UUID | None
    provider_code: str | None
    provider_name: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    status: str
    enrolled: int
    offered: int  # seats held for a promoted client who has not answered yet
    waitlisted: int
    version: int

    @property
    def seats_free(self) -> int:
        return max(0, self.capacity - self.enrolled - self.offered)

    @property
    def waitlist_length(self) -> int:
        return self.waitlisted

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "clinic_id": str(self.clinic_id),
            "service_id": str(self.service_id),
            "service_code": self.service_code,
            "service_name": self.service_name,
            "provider_id": str(self.provider_id) if self.provider_id else None,
            "provider": self.provider_code,
            "provider_name": self.provider_name,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "capacity": self.capacity,
            "status": self.status,
            "enrolled": self.enrolled,
            "offered": self.offered,
            "waitlist_length": self.waitlisted,
            "seats_free": self.seats_free,
            "version": self.version,
        }


def _count_of(status: str) -> Function:
    """How many of an instance's joined enrolments have `status` (0, not NULL, for none)."""
    return fn.COALESCE(fn.SUM(Case(None, ((Enrolment.status == status, 1),), 0)), 0)


def _instances_with_counts() -> ModelSelect[Any]:
    """Instances with service, provider and seat counts: one query, aggregated in SQL. Its
    rows are tuples (`_instance_view` reads them), not the models peewee's stubs promise."""
    return (
        EventInstance.select(
            EventInstance.id,
            EventInstance.clinic,
            EventInstance.starts_at,
            EventInstance.ends_at,
            EventInstance.capacity,
            EventInstance.status,
            EventInstance.version,
            Service.id,
            Service.code,
            Service.name,
            Provider.id,
            Provider.code,
            Provider.name,
            _count_of(ENROLLED).alias("n_enrolled"),
            _count_of(OFFERED).alias("n_offered"),
            _count_of(WAITLISTED).alias("n_waitlisted"),
        )
        .join(Service, on=(EventInstance.service == Service.id))
        .switch(EventInstance)
        .join(Provider, JOIN.LEFT_OUTER, on=(EventInstance.provider == Provider.id))
        .switch(EventInstance)
        .join(
            Enrolment,
            JOIN.LEFT_OUTER,
            on=(
                (Enrolment.instance == EventInstance.id) & Enrolment.status.in_(list(OPEN_STATUSES))
            ),
        )
        # Service and provider columns depend on their primary keys, which PostgreSQL accepts.
        .group_by(EventInstance.id, Service.id, Provider.id)
        .tuples()
    )


def _instance_view(row: tuple[Any, ...]) -> InstanceView:
    """A row of `_instances_with_counts` as a view."""
    (
        iid,
        clinic_id,
        starts_at,
        ends_at,
        capacity,
        status,
        version,
        service_id,
        service_code,
        service_name,
        provider_id,
        provider_code,
        provider_name,
        n_enrolled,
        n_offered,
        n_waitlisted,
    ) = row
    return InstanceView(
        id=iid,
        clinic_id=clinic_id,
        service_id=service_id,
        service_code=service_code,
        service_name=service_name,
        provider_id=provider_id,
        provider_code=provider_code,
        provider_name=provider_name,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        status=status,
        enrolled=int(n_enrolled),
        offered=int(n_offered),
        waitlisted=int(n_waitlisted),
        version=version,
    )


def _day_start_utc(day: dt.date, time_zone: str) -> pendulum.DateTime:
    """Midnight of a clinic date as a UTC instant (a midnight skipped by DST moves forward)."""
    return pendulum.datetime(day.year, day.month, day.day, tz=time_zone).in_timezone("UTC")


def list_instances(
    clinic: Clinic, from_date: dt.date | None = None, limit: int = 50
) -> list[InstanceView]:
    """Upcoming scheduled instances (not started yet), soonest first, from the clinic date
    `from_date` on (default: now)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1-{MAX_PAGE}", field="limit")
    where = (
        (EventInstance.clinic == clinic)
        & (EventInstance.status == SCHEDULED)
        & (EventInstance.starts_at > clock.now())
    )
    if from_date is not None:
        where &= EventInstance.starts_at >= _day_start_utc(from_date, clinic.time_zone)
    rows = (
        _instances_with_counts()
        .where(where)
        .order_by(EventInstance.starts_at, EventInstance.id)
        .limit(limit)
    )
    return [_instance_view(row) for row in rows]


def get_instance(instance_id: IdRef) -> InstanceView:
    """One instance with its counts, whatever its status; NotFound if there is none."""
    instance = resolve_instance(instance_id, lock=False, missing=NotFound)
    row = _instances_with_counts().where(EventInstance.id == instance.id).get()
    return _instance_view(row)


M = TypeVar("M", bound=Model)


def resolve_instance(
    instance_id: IdRef, *, lock: bool, missing: type[Exception] = Unprocessable
) -> EventInstance:
    """The instance by id or prefix (locked for a write); a command that names a missing one
    gets 4220 "Invalid event instance" as the field's APIs do, a read (`missing`) a 4040."""
    query = EventInstance.select()
    if lock:
        query = locked(query)
    try:
        return ids.resolve(
            EventInstance, instance_id, "event instance", field="instance", query=query
        )
    except NotFound:
        if missing is NotFound:
            raise NotFound("event instance not found", field="instance") from None
        raise Unprocessable(INVALID_INSTANCE, field="instance") from None


def lock_instance(instance_id: uuid.UUID) -> EventInstance:
    """Read the instance again under its row lock: seats are counted only after this."""
    return locked(EventInstance.select().where(EventInstance.id == instance_id)).get()


def require_bookable(instance: EventInstance, now: dt.datetime) -> None:
    """Only a scheduled instance that has not started takes enrolments."""
    if instance.status != SCHEDULED:
        raise Unprocessable(INVALID_INSTANCE, field="instance", data={"reason": instance.status})
    if instance.starts_at <= now:
        raise Unprocessable(INVALID_INSTANCE, field="instance", data={"reason": "started"})


def bookable(instance: EventInstance, now: dt.datetime) -> bool:
    """`require_bookable` as a question: promotion skips a class that has started."""
    return instance.status == SCHEDULED and instance.starts_at > now


def _seat_counts(instance: EventInstance) -> dict[str, int]:
    """Open enrolments of the instance by status (the caller holds its lock)."""
    query = (
        Enrolment.select(Enrolment.status, fn.COUNT(SQL("*")))
        .where((Enrolment.instance == instance.id) & Enrolment.status.in_(list(OPEN_STATUSES)))
        .group_by(Enrolment.status)
        .tuples()
    )
    rows = cast(Iterable[tuple[str, int]], query)  # tuples, where the stubs say models
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def seats_free(instance: EventInstance) -> int:
    """Seats neither enrolled nor held for a promoted client."""
    counts = _seat_counts(instance)
    return max(0, instance.capacity - counts[ENROLLED] - counts[OFFERED])
