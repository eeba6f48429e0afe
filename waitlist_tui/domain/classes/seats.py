"""Taking and giving up seats: enrol into a free seat, join a full class's waitlist, cancel.

Every write locks the instance row before it counts the seats (instances.py says why), is
one transaction with who did it and an audit row, and a rejected call changes no row.
"""

from __future__ import annotations

import datetime as dt

from waitlist_tui.domain import clock
from waitlist_tui.domain.classes.enrolments import EnrolmentView, get_enrolment
from waitlist_tui.domain.classes.instances import require_bookable, resolve_instance, seats_free
from waitlist_tui.domain.classes.promotion import locked_enrolment, move, promote, promoted_views
from waitlist_tui.domain.classes.statuses import (
    CANCELLED,
    CLOSED,
    ENROLLED,
    FULL,
    OFFERED,
    OPEN_STATUSES,
    WAITLISTED,
)
from waitlist_tui.domain.errors import Conflict, NotFound, ValidationError
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Client, Enrolment, EventInstance


def _resolve_client(instance: EventInstance, client_id: IdRef) -> Client:
    """A client of the instance's clinic, or a 4000 on client_id (not a 4040: the command
    exists, its argument is wrong)."""
    try:
        return ids.resolve(
            Client,
            client_id,
            "client",
            field="client_id",
            query=Client.select().where(Client.clinic == ids.fk_id(instance, "clinic")),
        )
    except (NotFound, ValidationError):
        raise ValidationError(
            f"client_id: {str(client_id)!r} is not a client of this clinic", field="client_id"
        ) from None


def _refuse_duplicate(instance: EventInstance, client: Client) -> None:
    """One open enrolment per client and class: a second is a 4090 saying which one."""
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


def _create(
    instance: EventInstance, client: Client, status: str, actor: str, now: dt.datetime
) -> Enrolment:
    """The new enrolment and its audit row (enrol or waitlist)."""
    enrolment = Enrolment.create_by(
        actor, now, instance=instance.id, client=client.id, status=status
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


def enrol(instance_id: IdRef, client_id: IdRef, actor: str) -> EnrolmentView:
    """Take a free seat; a full class refuses (4090) so that the desk joins its waitlist."""
    now = clock.now()
    with database.atomic():
        instance = resolve_instance(instance_id, lock=True)
        require_bookable(instance, now)
        client = _resolve_client(instance, client_id)
        _refuse_duplicate(instance, client)
        if seats_free(instance) <= 0:
            raise Conflict(FULL, field="instance", data={"seats_free": 0})
        enrolment = _create(instance, client, ENROLLED, actor, now)
    return get_enrolment(enrolment.id)


def join_waitlist(instance_id: IdRef, client_id: IdRef, actor: str) -> EnrolmentView:
    """Queue for a full class (4220 for an instance that is not upcoming and scheduled; 4000
    while seats are free; 4090 for a client already on it)."""
    now = clock.now()
    with database.atomic():
        instance = resolve_instance(instance_id, lock=True)
        require_bookable(instance, now)
        client = _resolve_client(instance, client_id)
        _refuse_duplicate(instance, client)
        free = seats_free(instance)
        if free > 0:
            seats = "1 seat is" if free == 1 else f"{free} seats are"
            raise ValidationError(
                f"{seats} free: enrol the client instead",
                field="instance",
                data={"seats_free": free},
            )
        enrolment = _create(instance, client, WAITLISTED, actor, now)
    return get_enrolment(enrolment.id)


def cancel_enrolment(enrolment_id: IdRef, actor: str) -> EnrolmentView:
    """Cancel any open enrolment; a seat it freed goes to the first on the waitlist."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = locked_enrolment(enrolment_id)
        if enrolment.status == CANCELLED:
            raise Conflict(CLOSED, data={"status": enrolment.status})
        move(enrolment, "enrolment.cancel", actor, now, status=CANCELLED)
        promoted = promote(instance, actor, now)
        view = get_enrolment(enrolment.id, promoted_views(promoted))
    return view
