"""Moving enrolments on under the instance's lock: one guarded change (`move`), and the
promotion of the first waitlisted into freed seats (`promote`).

When a seat frees up (a cancellation, a declined or expired offer) the first on the waitlist
is promoted in the same transaction: enrolled at once when the clinic's `event_waitlist_mode`
is "enroll", offered the seat for `offer_hold_minutes` when it is "offer".
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from waitlist_tui.domain.classes.enrolments import EnrolmentView, get_enrolment
from waitlist_tui.domain.classes.instances import bookable, lock_instance, seats_free
from waitlist_tui.domain.classes.statuses import (
    CHANGED,
    ENROLLED,
    MODE_OFFER,
    NOT_FOUND,
    OFFERED,
    WAITLISTED,
)
from waitlist_tui.domain.errors import Conflict, NotFound
from waitlist_tui.domain.messaging import outbox
from waitlist_tui.domain.store import audit, ids
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.models import Clinic, Enrolment, EventInstance


def move(
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
        Enrolment.update_by(actor, now, **new, version=Enrolment.version + 1)
        .where((Enrolment.id == enrolment.id) & (Enrolment.version == enrolment.version))
        .execute()
    )
    if rows != 1:
        raise Conflict(CHANGED)
    audit.record(actor, action, "enrolment", enrolment.id, audit.diff(old, new))


def promote(instance: EventInstance, actor: str, now: dt.datetime) -> list[uuid.UUID]:
    """Promote the first waitlisted enrolments into the free seats (the caller holds the
    instance's lock). Only an upcoming scheduled instance promotes."""
    if not bookable(instance, now):
        return []
    free = seats_free(instance)
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
    clinic = Clinic.get_by_id(ids.fk_id(instance, "clinic"))
    for enrolment in waiting:
        if clinic.event_waitlist_mode == MODE_OFFER:
            hold = now + dt.timedelta(minutes=clinic.offer_hold_minutes)
            move(
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
            move(enrolment, "enrolment.promote", actor, now, status=ENROLLED)
            outbox.tell_seat(enrolment, "seat_promoted", actor, now)
    return [e.id for e in waiting]


def locked_enrolment(enrolment_id: IdRef) -> tuple[Enrolment, EventInstance]:
    """The enrolment read again after its instance's row lock is held (so a desk that waited
    for the lock sees what the other desk committed)."""
    try:
        found = ids.resolve(Enrolment, enrolment_id, "enrolment", query=Enrolment.select())
    except NotFound:
        raise NotFound(NOT_FOUND, field="id") from None
    instance = lock_instance(ids.fk_id(found, "instance"))
    return Enrolment.get_by_id(found.id), instance


def promoted_views(promoted: list[uuid.UUID]) -> tuple[EnrolmentView, ...]:
    """Whom a write moved up, as views: the desk that cancelled sees who got the seat."""
    return tuple(get_enrolment(pid) for pid in promoted)
