"""Enrolments as views: one by id with its place on the waitlist, and a class's roster.

An enrolment takes a seat while it is `enrolled` or `offered` (a seat held for a promoted
client until `expires_at`); `waitlisted` ones queue in order of `created_at`; `cancelled` is
terminal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Case, ModelSelect, fn

from waitlist_tui.domain.classes.instances import InstanceView, get_instance
from waitlist_tui.domain.classes.statuses import CANCELLED, ENROLLED, NOT_FOUND, OFFERED, WAITLISTED
from waitlist_tui.domain.errors import NotFound
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Client, Enrolment, EventInstance, Service
from waitlist_tui.domain.timeutil import iso


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


def _enrolment_query() -> ModelSelect[Enrolment]:
    """Enrolments with the client's name and the instance's service and start joined."""
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
            (Enrolment.instance == ids.fk_id(enrolment, "instance"))
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


def get_enrolment(enrolment_id: IdRef, promoted: tuple[EnrolmentView, ...] = ()) -> EnrolmentView:
    try:
        e = ids.resolve(Enrolment, enrolment_id, "enrolment", query=_enrolment_query())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    return _enrolment_view(e, _position(e), promoted)


def roster(instance_id: IdRef) -> tuple[InstanceView, list[EnrolmentView]]:
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
