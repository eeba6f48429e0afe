"""Classes and group sessions: seats, enrolments, and each full instance's own waitlist.

An instance has `capacity` seats. An enrolment takes a seat while it is `enrolled` or `offered`
(a seat held for a promoted client until `expires_at`); `waitlisted` ones queue in order of
`created_at`; `cancelled` is terminal. When a seat frees up (a cancellation, a declined or
expired offer) the first on the waitlist is promoted in the same transaction: enrolled at once
when the clinic's `event_waitlist_mode` is "enroll", offered the seat for `offer_hold_minutes`
when it is "offer".

Capacity holds whatever the number of desks racing: every write locks the instance row first
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite write transactions are BEGIN IMMEDIATE, so they
are serialised already) and only then counts the seats. Every write is one transaction with who
did it and an audit row; a rejected call changes no row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pendulum
from peewee import JOIN, SQL, Case, fn

from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import Conflict, NotFound, Unprocessable, ValidationError
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.models import (
    Client,
    Clinic,
    Enrolment,
    EventInstance,
    Provider,
    Service,
)
from waitlist_tui.domain.timeutil import iso

# Enrolment statuses.
ENROLLED, WAITLISTED, OFFERED, CANCELLED = "enrolled", "waitlisted", "offered", "cancelled"
ENROLMENT_STATUSES = (ENROLLED, WAITLISTED, OFFERED, CANCELLED)
OPEN_STATUSES = (ENROLLED, WAITLISTED, OFFERED)
SEAT_STATUSES = (ENROLLED, OFFERED)  # these take a seat

# Instance statuses.
SCHEDULED, INSTANCE_CANCELLED, COMPLETED = "scheduled", "cancelled", "completed"

# Clinic.event_waitlist_mode.
MODE_ENROLL, MODE_OFFER = "enroll", "offer"

INVALID_INSTANCE = "Invalid event instance"
NOT_FOUND = "enrolment not found"
CLOSED = "enrolment is closed"
FULL = "class is full: join its waitlist"
CHANGED = "enrolment was changed by someone else; reload it and try again"
MAX_PAGE = 500


# --- views ------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class EnrolmentView:
    """One client's place on an instance. `position` is 1-based on the waitlist (waitlisted
    only); `promoted` lists whom a write moved up from the waitlist into the freed seat(s)."""

    id: uuid.UUID
    instance_id: uuid.UUID
    service_code: str
    starts_at: dt.datetime
    client_id: uuid.UUID
    first_name: str
    last_name: str
    status: str
    position: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    offered_at: dt.datetime | None
    expires_at: dt.datetime | None
    created_by: str
    updated_by: str
    version: int
    promoted: tuple[EnrolmentView, ...] = ()

    @property
    def client_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "instance_id": str(self.instance_id),
            "service_code": self.service_code,
            "starts_at": iso(self.starts_at),
            "client_id": str(self.client_id),
            "client": {
                "id": str(self.client_id),
                "first_name": self.first_name,
                "last_name": self.last_name,
            },
            "status": self.status,
            "position": self.position,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "offered_at": iso(self.offered_at),
            "expires_at": iso(self.expires_at),
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "version": self.version,
            "promoted": [p.to_dict() for p in self.promoted],
        }


# --- reads ------------------------------------------------------------------------------------


def _count_of(status: str):
    return fn.COALESCE(fn.SUM(Case(None, ((Enrolment.status == status, 1),), 0)), 0)


def _instances_with_counts():
    """Instances with service, provider and seat counts: one query, aggregated in SQL."""
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


def _instance_view(row: tuple) -> InstanceView:
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


def get_instance(instance_id: Any) -> InstanceView:
    """One instance with its counts, whatever its status; NotFound if there is none."""
    instance = _resolve_instance(instance_id, lock=False, missing=NotFound)
    row = _instances_with_counts().where(EventInstance.id == instance.id).get()
    return _instance_view(row)


def _enrolment_query():
    return (
        Enrolment.select(
            Enrolment,
            Client.id,
            Client.first_name,
            Client.last_name,
            EventInstance.id,
            EventInstance.starts_at,
            Service.id,
            Service.code,
        )
        .join(Client, on=(Enrolment.client == Client.id))
        .switch(Enrolment)
        .join(EventInstance, on=(Enrolment.instance == EventInstance.id))
        .join(Service, on=(EventInstance.service == Service.id))
    )


def _position(enrolment: Enrolment) -> int | None:
    """1-based place on the instance's waitlist: oldest created_at first, then id."""
    if enrolment.status != WAITLISTED:
        return None
    ahead = (
        Enrolment.select(fn.COUNT(SQL("*")))
        .where(
            (Enrolment.instance == enrolment.instance_id)
            & (Enrolment.status == WAITLISTED)
            & (
                (Enrolment.created_at < enrolment.created_at)
                | ((Enrolment.created_at == enrolment.created_at) & (Enrolment.id < enrolment.id))
            )
        )
        .scalar()
    )
    return 1 + int(ahead or 0)


def _enrolment_view(
    e: Enrolment, position: int | None, promoted: tuple[EnrolmentView, ...] = ()
) -> EnrolmentView:
    return EnrolmentView(
        id=e.id,
        instance_id=e.instance.id,
        service_code=e.instance.service.code,
        starts_at=e.instance.starts_at,
        client_id=e.client.id,
        first_name=e.client.first_name,
        last_name=e.client.last_name,
        status=e.status,
        position=position,
        created_at=e.created_at,
        updated_at=e.updated_at,
        offered_at=e.offered_at,
        expires_at=e.expires_at,
        created_by=e.created_by,
        updated_by=e.updated_by,
        version=e.version,
        promoted=promoted,
    )


def get_enrolment(enrolment_id: Any, promoted: tuple[EnrolmentView, ...] = ()) -> EnrolmentView:
    try:
        e = ids.resolve(Enrolment, enrolment_id, "enrolment", query=_enrolment_query())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    return _enrolment_view(e, _position(e), promoted)


def roster(instance_id: Any) -> tuple[InstanceView, list[EnrolmentView]]:
    """A class and who is on it: enrolled and offered seats, then the waitlist in order."""
    instance = get_instance(instance_id)
    rank = Case(Enrolment.status, [(ENROLLED, 0), (OFFERED, 1), (WAITLISTED, 2)], 3)
    rows = (
        _enrolment_query()
        .where(Enrolment.instance == instance.id, Enrolment.status != CANCELLED)
        .order_by(rank, Enrolment.created_at, Enrolment.id)
    )
    views, waiting = [], 0
    for e in rows:
        position = None
        if e.status == WAITLISTED:
            waiting += 1
            position = waiting
        views.append(_enrolment_view(e, position))
    return instance, views


# --- helpers of the writes --------------------------------------------------------------------


def _locking(query):
    """The query with FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction already holds the
    database's write lock."""
    return query.for_update() if is_postgres() else query


def _resolve_instance(
    instance_id: Any, *, lock: bool, missing: type[Exception] = Unprocessable
) -> EventInstance:
    query = EventInstance.select()
    if lock:
        query = _locking(query)
    try:
        return ids.resolve(
            EventInstance, instance_id, "event instance", field="instance", query=query
        )
    except NotFound:
        if missing is NotFound:
            raise NotFound("event instance not found", field="instance") from None
        raise Unprocessable(INVALID_INSTANCE, field="instance") from None


def _lock_instance(instance_id: uuid.UUID) -> EventInstance:
    return _locking(EventInstance.select().where(EventInstance.id == instance_id)).get()


def _require_bookable(instance: EventInstance, now: dt.datetime) -> None:
    """Only a scheduled instance that has not started takes enrolments."""
    if instance.status != SCHEDULED:
        raise Unprocessable(INVALID_INSTANCE, field="instance", data={"reason": instance.status})
    if instance.starts_at <= now:
        raise Unprocessable(INVALID_INSTANCE, field="instance", data={"reason": "started"})


def _bookable(instance: EventInstance, now: dt.datetime) -> bool:
    return instance.status == SCHEDULED and instance.starts_at > now


def _resolve_client(instance: EventInstance, client_id: Any) -> Client:
    try:
        return ids.resolve(
            Client,
            client_id,
            "client",
            field="client_id",
            query=Client.select().where(Client.clinic == instance.clinic_id),
        )
    except (NotFound, ValidationError):
        raise ValidationError(
            f"client_id: {str(client_id)!r} is not a client of this clinic", field="client_id"
        ) from None


def _refuse_duplicate(instance: EventInstance, client: Client) -> None:
    existing = (
        Enrolment.select(Enrolment.id, Enrolment.status)
        .where(
            (Enrolment.instance == instance.id)
            & (Enrolment.client == client.id)
            & Enrolment.status.in_(list(OPEN_STATUSES))
        )
        .first()
    )
    if existing is None:
        return
    message = {
        ENROLLED: "client is already enrolled in this class",
        WAITLISTED: "client is already on this class's waitlist",
        OFFERED: "client already has a seat offered in this class: accept it instead",
    }[existing.status]
    raise Conflict(message, data={"enrolment_id": str(existing.id), "status": existing.status})


def _seat_counts(instance: EventInstance) -> dict[str, int]:
    rows = (
        Enrolment.select(Enrolment.status, fn.COUNT(SQL("*")))
        .where((Enrolment.instance == instance.id) & Enrolment.status.in_(list(OPEN_STATUSES)))
        .group_by(Enrolment.status)
        .tuples()
    )
    counts = dict.fromkeys(OPEN_STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def _seats_free(instance: EventInstance) -> int:
    counts = _seat_counts(instance)
    return max(0, instance.capacity - counts[ENROLLED] - counts[OFFERED])


def _create(
    instance: EventInstance, client: Client, status: str, actor: str, now: dt.datetime
) -> Enrolment:
    enrolment = Enrolment.create(
        instance=instance.id,
        client=client.id,
        status=status,
        created_at=now,
        updated_at=now,
        created_by=actor,
        updated_by=actor,
    )
    action = "enrolment.enrol" if status == ENROLLED else "enrolment.waitlist"
    audit.record(
        actor,
        action,
        "enrolment",
        enrolment.id,
        audit.diff({}, {"instance": str(instance.id), "client": str(client.id), "status": status}),
    )
    return enrolment


def _move(
    enrolment: Enrolment,
    action: str,
    actor: str,
    now: dt.datetime,
    **new: Any,
) -> None:
    """Change an enrolment that the caller read under the instance's lock; optimistic version
    check as well, so a row changed meanwhile is refused rather than overwritten."""
    old = {k: getattr(enrolment, k) for k in new}
    rows = (
        Enrolment.update(**new, updated_at=now, updated_by=actor, version=Enrolment.version + 1)
        .where((Enrolment.id == enrolment.id) & (Enrolment.version == enrolment.version))
        .execute()
    )
    if rows != 1:
        raise Conflict(CHANGED)
    audit.record(actor, action, "enrolment", enrolment.id, audit.diff(old, new))


def _fill(instance: EventInstance, actor: str, now: dt.datetime) -> list[uuid.UUID]:
    """Promote the first waitlisted enrolments into the free seats (the caller holds the
    instance's lock). Only an upcoming scheduled instance promotes."""
    if not _bookable(instance, now):
        return []
    free = _seats_free(instance)
    if free <= 0:
        return []
    waiting = list(
        Enrolment.select()
        .where((Enrolment.instance == instance.id) & (Enrolment.status == WAITLISTED))
        .order_by(Enrolment.created_at, Enrolment.id)
        .limit(free)
    )
    if not waiting:
        return []
    clinic = Clinic.get_by_id(instance.clinic_id)
    for enrolment in waiting:
        if clinic.event_waitlist_mode == MODE_OFFER:
            hold = now + dt.timedelta(minutes=clinic.offer_hold_minutes)
            _move(
                enrolment,
                "enrolment.offer",
                actor,
                now,
                status=OFFERED,
                offered_at=now,
                expires_at=min(hold, instance.starts_at),  # no hold past the class's start
            )
            outbox.tell_seat(Enrolment.get_by_id(enrolment.id), "seat_offered", actor, now)
        else:
            _move(enrolment, "enrolment.promote", actor, now, status=ENROLLED)
            outbox.tell_seat(enrolment, "seat_promoted", actor, now)
    return [e.id for e in waiting]


def _locked_enrolment(enrolment_id: Any) -> tuple[Enrolment, EventInstance]:
    """The enrolment read again after its instance's row lock is held (so a desk that waited
    for the lock sees what the other desk committed)."""
    try:
        found = ids.resolve(Enrolment, enrolment_id, "enrolment", query=Enrolment.select())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    instance = _lock_instance(found.instance_id)
    return Enrolment.get_by_id(found.id), instance


def _promoted_views(promoted: list[uuid.UUID]) -> tuple[EnrolmentView, ...]:
    return tuple(get_enrolment(pid) for pid in promoted)


def _require_live_offer(enrolment: Enrolment, now: dt.datetime) -> None:
    if enrolment.status == CANCELLED:
        raise Conflict(CLOSED, data={"status": enrolment.status})
    if enrolment.status != OFFERED:
        raise Conflict(
            f"enrolment is {enrolment.status}: no seat offer to answer",
            data={"status": enrolment.status},
        )
    if enrolment.expires_at is not None and enrolment.expires_at <= now:
        raise Conflict(
            f"the seat offer expired at {iso(enrolment.expires_at)}",
            data={"status": enrolment.status, "expires_at": iso(enrolment.expires_at)},
        )


# --- writes -----------------------------------------------------------------------------------


def enrol(instance_id: Any, client_id: Any, actor: str) -> EnrolmentView:
    """Take a free seat; a full class refuses (4090) so that the desk joins its waitlist."""
    now = clock.now()
    with database.atomic():
        instance = _resolve_instance(instance_id, lock=True)
        _require_bookable(instance, now)
        client = _resolve_client(instance, client_id)
        _refuse_duplicate(instance, client)
        if _seats_free(instance) <= 0:
            raise Conflict(FULL, field="instance", data={"seats_free": 0})
        enrolment = _create(instance, client, ENROLLED, actor, now)
    return get_enrolment(enrolment.id)


def join_waitlist(instance_id: Any, client_id: Any, actor: str) -> EnrolmentView:
    """Queue for a full class (4220 for an instance that is not upcoming and scheduled; 4000
    while seats are free; 4090 for a client already on it)."""
    now = clock.now()
    with database.atomic():
        instance = _resolve_instance(instance_id, lock=True)
        _require_bookable(instance, now)
        client = _resolve_client(instance, client_id)
        _refuse_duplicate(instance, client)
        free = _seats_free(instance)
        if free > 0:
            seats = "1 seat is" if free == 1 else f"{free} seats are"
            raise ValidationError(
                f"{seats} free: enrol the client instead",
                field="instance",
                data={"seats_free": free},
            )
        enrolment = _create(instance, client, WAITLISTED, actor, now)
    return get_enrolment(enrolment.id)


def cancel_enrolment(enrolment_id: Any, actor: str) -> EnrolmentView:
    """Cancel any open enrolment; a seat it freed goes to the first on the waitlist."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = _locked_enrolment(enrolment_id)
        if enrolment.status == CANCELLED:
            raise Conflict(CLOSED, data={"status": enrolment.status})
        _move(enrolment, "enrolment.cancel", actor, now, status=CANCELLED)
        promoted = _fill(instance, actor, now)
        view = get_enrolment(enrolment.id, _promoted_views(promoted))
    return view


def accept_seat(enrolment_id: Any, actor: str) -> EnrolmentView:
    """The promoted client takes the offered seat before the hold expires."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = _locked_enrolment(enrolment_id)
        _require_live_offer(enrolment, now)
        _require_bookable(instance, now)
        _move(enrolment, "enrolment.accept", actor, now, status=ENROLLED)
    return get_enrolment(enrolment.id)


def decline_seat(enrolment_id: Any, actor: str) -> EnrolmentView:
    """The promoted client turns the seat down; it goes to the next on the waitlist."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = _locked_enrolment(enrolment_id)
        _require_live_offer(enrolment, now)
        _move(enrolment, "enrolment.decline", actor, now, status=CANCELLED)
        promoted = _fill(instance, actor, now)
        view = get_enrolment(enrolment.id, _promoted_views(promoted))
    return view


def expire_seat_offers(now: dt.datetime | None = None, actor: str = "system") -> int:
    """Cancel the seat offers whose hold has run out (audit action "enrolment.expired") and
    promote the next waitlisted into each seat; returns how many offers expired."""
    now = now or clock.now()
    due = (Enrolment.status == OFFERED) & (Enrolment.expires_at <= now)
    count = 0
    with database.atomic():
        instance_ids = sorted(
            {row[0] for row in Enrolment.select(Enrolment.instance).where(due).tuples()}, key=str
        )
        for instance_id in instance_ids:  # locked in id order: two runs cannot deadlock
            instance = _lock_instance(instance_id)
            expired = list(
                Enrolment.select()
                .where((Enrolment.instance == instance_id) & due)
                .order_by(Enrolment.created_at, Enrolment.id)
            )
            for enrolment in expired:
                _move(enrolment, "enrolment.expired", actor, now, status=CANCELLED)
            count += len(expired)
            if expired:
                _fill(instance, actor, now)
    return count
