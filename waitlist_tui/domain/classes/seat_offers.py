"""Answering a seat offer (accept, decline) and expiring the ones whose hold ran out; a
seat given back goes to the next on the waitlist in the same transaction."""

from __future__ import annotations

import datetime as dt

from waitlist_tui.domain import clock
from waitlist_tui.domain.classes.enrolments import EnrolmentView, get_enrolment
from waitlist_tui.domain.classes.instances import lock_instance, require_bookable
from waitlist_tui.domain.classes.promotion import locked_enrolment, move, promote, promoted_views
from waitlist_tui.domain.classes.statuses import CANCELLED, CLOSED, ENROLLED, OFFERED
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.ids import IdRef, fk_id
from waitlist_tui.domain.store.models import Enrolment
from waitlist_tui.domain.timeutil import iso


def _require_live_offer(enrolment: Enrolment, now: dt.datetime) -> None:
    """Only an offered seat whose hold has not run out can be answered (else a 4090)."""
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


def accept_seat(enrolment_id: IdRef, actor: str) -> EnrolmentView:
    """The promoted client takes the offered seat before the hold expires."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = locked_enrolment(enrolment_id)
        _require_live_offer(enrolment, now)
        require_bookable(instance, now)
        move(enrolment, "enrolment.accept", actor, now, status=ENROLLED)
    return get_enrolment(enrolment.id)


def decline_seat(enrolment_id: IdRef, actor: str) -> EnrolmentView:
    """The promoted client turns the seat down; it goes to the next on the waitlist."""
    now = clock.now()
    with database.atomic():
        enrolment, instance = locked_enrolment(enrolment_id)
        _require_live_offer(enrolment, now)
        move(enrolment, "enrolment.decline", actor, now, status=CANCELLED)
        promoted = promote(instance, actor, now)
        view = get_enrolment(enrolment.id, promoted_views(promoted))
    return view


def expire_seat_offers(now: dt.datetime | None = None, actor: str = "system") -> int:
    """Cancel the seat offers whose hold has run out (audit action "enrolment.expired") and
    promote the next waitlisted into each seat; returns how many offers expired."""
    now = now or clock.now()
    due = (Enrolment.status == OFFERED) & (Enrolment.expires_at <= now)
    count = 0
    with database.atomic():
        instance_ids = sorted(
            {fk_id(e, "instance") for e in Enrolment.select(Enrolment.instance).where(due)}, key=str
        )
        for instance_id in instance_ids:  # locked in id order: two runs cannot deadlock
            instance = lock_instance(instance_id)
            expired = list(
                Enrolment.select()
                .where((Enrolment.instance == instance_id) & due)
                .order_by(Enrolment.created_at, Enrolment.id)
            )
            for enrolment in expired:
                move(enrolment, "enrolment.expired", actor, now, status=CANCELLED)
            count += len(expired)
            if expired:
                promote(instance, actor, now)
    return count
