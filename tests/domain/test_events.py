"""Class and event waitlists (issue 3): seats, the waitlist, promotion, seat offers, races.

Each test runs on SQLite and PostgreSQL (the `clinic` fixture). The clock is frozen; a test
moves it with tests.timetravel.move_to, which the `frozen` fixture undoes.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pendulum
import pytest
from playhouse.test_utils import count_queries

from tests.conftest import FROZEN, STAFF
from tests.timetravel import move_to
from waitlist_tui.domain.classes import enrolments, instances, seat_offers, seats, statuses
from waitlist_tui.domain.errors import Conflict, NotFound, Unprocessable, ValidationError
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    ALL_MODELS,
    AuditEvent,
    Client,
    Clinic,
    Enrolment,
    EventInstance,
    Provider,
    Service,
)

SOON = FROZEN.add(days=3)  # Monday 2026-11-23 14:30Z


def row_counts() -> dict[str, int]:
    return {m.__name__: m.select().count() for m in ALL_MODELS}


def table_rows() -> list[tuple]:
    """Every enrolment and instance as stored, to prove a rejected call changed nothing."""
    return sorted(
        (str(e.id), e.status, e.version, e.updated_at, e.expires_at) for e in Enrolment.select()
    ) + sorted((str(i.id), i.status, i.version) for i in EventInstance.select())


def assert_rejected(call, error: type, message: str) -> Exception:
    """The call fails with `error` whose message contains `message`, and no row changed."""
    before, rows = row_counts(), table_rows()
    with pytest.raises(error) as info:
        call()
    assert message in info.value.message
    assert row_counts() == before
    assert table_rows() == rows
    return info.value


def move_clock(to: pendulum.DateTime) -> None:
    """Move the frozen clock (the `frozen` fixture travels back at the end of the test)."""
    move_to(to)


def instance(
    clinic: Clinic,
    capacity: int = 3,
    starts_at: pendulum.DateTime = SOON,
    status: str = "scheduled",
    provider: bool = True,
) -> EventInstance:
    service = Service.get((Service.clinic == clinic) & (Service.code == "PILATES"))
    patel = Provider.get((Provider.clinic == clinic) & (Provider.code == "PATEL"))
    return EventInstance.create(
        clinic=clinic,
        service=service,
        provider=patel if provider else None,
        starts_at=starts_at,
        ends_at=starts_at.add(hours=1),
        capacity=capacity,
        status=status,
    )


def clients(clinic: Clinic, n: int, start: int = 0) -> list[Client]:
    now = pendulum.now("UTC")
    return [
        Client.create(
            clinic=clinic,
            first_name=f"Client{i}",
            last_name="Test",
            phone=f"+1617555{i:04d}",
            created_at=now,
            updated_at=now,
            created_by=STAFF,
            updated_by=STAFF,
        )
        for i in range(start, start + n)
    ]


def fill(inst: EventInstance, people: list[Client]) -> list[enrolments.EnrolmentView]:
    return [seats.enrol(inst.id, c.id, STAFF) for c in people]


def waitlist(inst: EventInstance, people: list[Client]) -> list[enrolments.EnrolmentView]:
    """Join one by one, a minute apart, so the waitlist order is the order given."""
    views = []
    for c in people:
        move_clock(pendulum.now("UTC").add(minutes=1))
        views.append(seats.join_waitlist(inst.id, c.id, STAFF))
    return views


def status_of(view: enrolments.EnrolmentView) -> str:
    return Enrolment.get_by_id(view.id).status


def set_mode(clinic: Clinic, mode: str, hold: int = 120) -> None:
    Clinic.update(event_waitlist_mode=mode, offer_hold_minutes=hold).where(
        Clinic.id == clinic.id
    ).execute()


def actions_of(view: enrolments.EnrolmentView) -> list[str]:
    return [
        a.action
        for a in AuditEvent.select()
        .where(AuditEvent.object_id == str(view.id))
        .order_by(AuditEvent.id)
    ]


# --- list ---------------------------------------------------------------------------------------


def test_list_instances_counts_seats_in_one_query(clinic: Clinic) -> None:
    full = instance(clinic, capacity=2, starts_at=SOON)
    half = instance(clinic, capacity=4, starts_at=SOON.add(days=1), provider=False)
    instance(clinic, starts_at=SOON.add(hours=2), status="cancelled")
    instance(clinic, starts_at=SOON.add(hours=3), status="completed")
    instance(clinic, starts_at=FROZEN.subtract(hours=1))  # already started
    instance(clinic, starts_at=FROZEN)  # starts right now: started
    people = clients(clinic, 6)
    fill(full, people[:2])
    waitlist(full, people[2:4])
    fill(half, people[4:5])
    with count_queries() as counted:
        listed = instances.list_instances(clinic)
    assert counted.count == 1
    assert [i.id for i in listed] == [full.id, half.id]
    first, second = (i.to_dict() for i in listed)
    assert first["service_code"] == "PILATES" and first["provider"] == "PATEL"
    assert (
        first["starts_at"] == "2026-11-23T14:30:00Z" and first["ends_at"] == "2026-11-23T15:30:00Z"
    )
    assert (
        first["capacity"],
        first["enrolled"],
        first["waitlist_length"],
        first["seats_free"],
    ) == (
        2,
        2,
        2,
        0,
    )
    assert second["provider"] is None and second["provider_id"] is None
    assert (second["enrolled"], second["waitlist_length"], second["seats_free"]) == (1, 0, 3)
    # --from is a clinic date (New York): the second class is on Tuesday 24th.
    assert [i.id for i in instances.list_instances(clinic, from_date=dt.date(2026, 11, 24))] == [
        half.id
    ]
    assert [i.id for i in instances.list_instances(clinic, limit=1)] == [full.id]
    with pytest.raises(ValidationError):
        instances.list_instances(clinic, limit=0)


def test_cancelled_enrolments_do_not_count(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=2)
    a, _ = fill(inst, clients(clinic, 2))
    seats.cancel_enrolment(a.id, STAFF)
    assert instances.get_instance(inst.id).to_dict()["seats_free"] == 1


# --- enrol --------------------------------------------------------------------------------------


def test_enrol_takes_a_seat_with_audit(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=2)
    (client,) = clients(clinic, 1)
    view = seats.enrol(str(inst.id)[:8], str(client.id)[:8], STAFF)
    data = view.to_dict()
    assert data["status"] == "enrolled" and data["position"] is None
    assert data["instance_id"] == str(inst.id) and data["client_id"] == str(client.id)
    assert data["created_by"] == data["updated_by"] == STAFF and data["version"] == 1
    assert data["created_at"] == "2026-11-20T14:30:00Z"
    audit = AuditEvent.get(AuditEvent.object_id == data["id"])
    assert audit.action == "enrolment.enrol" and audit.actor == STAFF
    assert audit.changes["status"] == [None, "enrolled"]
    assert instances.get_instance(inst.id).seats_free == 1


def test_enrol_into_a_full_class_says_join_the_waitlist(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    first, second = clients(clinic, 2)
    seats.enrol(inst.id, first.id, STAFF)
    err = assert_rejected(
        lambda: seats.enrol(inst.id, second.id, STAFF),
        Conflict,
        "class is full: join its waitlist",
    )
    assert err.code == 4090


def test_enrol_refuses_an_instance_that_is_not_upcoming(clinic: Clinic) -> None:
    (client,) = clients(clinic, 1)
    for inst in (
        instance(clinic, status="cancelled"),
        instance(clinic, starts_at=FROZEN.subtract(minutes=5)),
    ):
        assert_rejected(
            lambda inst=inst: seats.enrol(inst.id, client.id, STAFF),
            Unprocessable,
            "Invalid event instance",
        )


def test_client_of_another_clinic_or_unknown_is_refused(clinic: Clinic) -> None:
    inst = instance(clinic)
    assert_rejected(
        lambda: seats.enrol(inst.id, uuid.uuid4(), STAFF),
        ValidationError,
        "is not a client of this clinic",
    )


# --- join the waitlist --------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unknown", "unknown_prefix", "cancelled", "completed", "past"])
def test_join_an_invalid_instance_is_4220(clinic: Clinic, case: str) -> None:
    (client,) = clients(clinic, 1)
    if case == "unknown":
        target: object = uuid.uuid4()
    elif case == "unknown_prefix":
        target = "ffffffff"
    elif case == "past":
        target = instance(clinic, capacity=0, starts_at=FROZEN.subtract(days=1)).id
    else:
        target = instance(clinic, capacity=0, status=case).id
    err = assert_rejected(lambda: seats.join_waitlist(target, client.id, STAFF), Unprocessable, "")
    assert err.message == "Invalid event instance" and err.code == 4220


def test_join_when_seats_are_free_is_4000(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=4)
    people = clients(clinic, 3)
    fill(inst, people[:1])
    err = assert_rejected(
        lambda: seats.join_waitlist(inst.id, people[1].id, STAFF),
        ValidationError,
        "3 seats are free: enrol the client instead",
    )
    assert err.code == 4000
    fill(inst, people[1:3])
    (late,) = clients(clinic, 1, start=9)
    assert_rejected(
        lambda: seats.join_waitlist(inst.id, late.id, STAFF),
        ValidationError,
        "1 seat is free: enrol the client instead",
    )


def test_join_a_full_class_queues_in_order_of_joining(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    people = clients(clinic, 4)
    fill(inst, people[:1])
    views = waitlist(inst, people[1:])
    assert [v.status for v in views] == ["waitlisted"] * 3
    assert [enrolments.get_enrolment(v.id).position for v in views] == [1, 2, 3]
    assert actions_of(views[0]) == ["enrolment.waitlist"]
    listed = instances.get_instance(inst.id)
    assert (listed.enrolled, listed.waitlist_length, listed.seats_free) == (1, 3, 0)


def test_a_client_is_on_an_instance_once(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    enrolled, waiting = clients(clinic, 2)
    fill(inst, [enrolled])
    waitlist(inst, [waiting])
    for client in (enrolled, waiting):
        err = assert_rejected(
            lambda client=client: seats.join_waitlist(inst.id, client.id, STAFF),
            Conflict,
            "client is already",
        )
        assert err.code == 4090
    assert_rejected(lambda: seats.enrol(inst.id, enrolled.id, STAFF), Conflict, "already enrolled")


def test_a_cancelled_client_can_join_again(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    (client,) = clients(clinic, 1)
    first = seats.enrol(inst.id, client.id, STAFF)
    seats.cancel_enrolment(first.id, STAFF)
    again = seats.enrol(inst.id, client.id, STAFF)
    assert again.id != first.id and again.status == "enrolled"


# --- cancel and promotion -----------------------------------------------------------------------


def test_cancel_in_enroll_mode_enrols_the_oldest_waitlisted(clinic: Clinic) -> None:
    assert clinic.event_waitlist_mode == "enroll"
    inst = instance(clinic, capacity=2)
    people = clients(clinic, 5)
    seated = fill(inst, people[:2])
    first, second, third = waitlist(inst, people[2:])
    move_clock(FROZEN.add(hours=1))
    result = seats.cancel_enrolment(str(seated[0].id)[:8], STAFF)
    assert result.status == "cancelled" and result.version == 2 and result.updated_by == STAFF
    assert [p.id for p in result.promoted] == [first.id]
    promoted = enrolments.get_enrolment(first.id)
    assert promoted.status == "enrolled" and promoted.version == 2
    assert promoted.offered_at is None and promoted.updated_at == FROZEN.add(hours=1)
    assert actions_of(first) == ["enrolment.waitlist", "enrolment.promote"]
    assert actions_of(seated[0]) == ["enrolment.enrol", "enrolment.cancel"]
    assert [enrolments.get_enrolment(v.id).position for v in (second, third)] == [1, 2]
    counts = instances.get_instance(inst.id)
    assert (counts.enrolled, counts.waitlist_length, counts.seats_free) == (2, 2, 0)
    assert result.to_dict()["promoted"][0]["status"] == "enrolled"


def test_cancel_in_offer_mode_holds_the_seat_for_the_first(clinic: Clinic) -> None:
    set_mode(clinic, "offer", hold=90)
    inst = instance(clinic, capacity=1)
    people = clients(clinic, 3)
    (seated,) = fill(inst, people[:1])
    first, second = waitlist(inst, people[1:])
    at = FROZEN.add(hours=1)
    move_clock(at)
    result = seats.cancel_enrolment(seated.id, STAFF)
    offered = enrolments.get_enrolment(first.id)
    assert [p.id for p in result.promoted] == [first.id]
    assert offered.status == "offered"
    assert offered.offered_at == at and offered.expires_at == at.add(minutes=90)
    assert offered.to_dict()["expires_at"] == "2026-11-20T17:00:00Z"
    assert actions_of(first) == ["enrolment.waitlist", "enrolment.offer"]
    # The held seat is taken: nobody else can enrol into it, the second stays first in line.
    counts = instances.get_instance(inst.id)
    assert (counts.enrolled, counts.offered, counts.seats_free) == (0, 1, 0)
    outsider = clients(clinic, 1, start=9)[0]
    assert_rejected(lambda: seats.enrol(inst.id, outsider.id, STAFF), Conflict, "class is full")
    assert enrolments.get_enrolment(second.id).position == 1


def test_a_seat_offer_is_never_held_past_the_class_start(clinic: Clinic) -> None:
    set_mode(clinic, "offer", hold=120)
    starts = FROZEN.add(minutes=30)
    inst = instance(clinic, capacity=1, starts_at=starts)
    seat, waiting = clients(clinic, 2)
    (seated,) = fill(inst, [seat])
    (queued,) = waitlist(inst, [waiting])
    seats.cancel_enrolment(seated.id, STAFF)
    assert enrolments.get_enrolment(queued.id).expires_at == starts


def test_cancel_a_waitlisted_one_promotes_nobody(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    people = clients(clinic, 3)
    (seated,) = fill(inst, people[:1])
    first, second = waitlist(inst, people[1:])
    result = seats.cancel_enrolment(first.id, STAFF)
    assert result.status == "cancelled" and result.promoted == ()
    assert status_of(seated) == "enrolled"
    assert enrolments.get_enrolment(second.id).position == 1


def test_cancel_an_offered_one_offers_the_seat_to_the_next(clinic: Clinic) -> None:
    set_mode(clinic, "offer")
    inst = instance(clinic, capacity=1)
    people = clients(clinic, 3)
    (seated,) = fill(inst, people[:1])
    first, second = waitlist(inst, people[1:])
    seats.cancel_enrolment(seated.id, STAFF)
    result = seats.cancel_enrolment(first.id, STAFF)
    assert status_of(first) == "cancelled"
    assert [p.id for p in result.promoted] == [second.id] and status_of(second) == "offered"


def test_cancel_a_cancelled_enrolment_is_a_conflict(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    (seated,) = fill(inst, clients(clinic, 1))
    seats.cancel_enrolment(seated.id, STAFF)
    err = assert_rejected(
        lambda: seats.cancel_enrolment(seated.id, STAFF), Conflict, "enrolment is closed"
    )
    assert err.code == 4090
    with pytest.raises(NotFound, match="enrolment not found"):
        seats.cancel_enrolment(uuid.uuid4(), STAFF)


def test_no_promotion_once_the_class_has_started(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1, starts_at=FROZEN.add(hours=1))
    seat, waiting = clients(clinic, 2)
    (seated,) = fill(inst, [seat])
    (queued,) = waitlist(inst, [waiting])
    move_clock(FROZEN.add(hours=2))
    assert seats.cancel_enrolment(seated.id, STAFF).promoted == ()
    assert status_of(queued) == "waitlisted"


# --- seat offers: accept, decline, expiry -------------------------------------------------------


def offered_seat(clinic: Clinic, waiting: int = 2) -> tuple[EventInstance, list]:
    """A one-seat class in offer mode whose seat was just offered to the first of `waiting`."""
    set_mode(clinic, "offer", hold=120)
    inst = instance(clinic, capacity=1)
    people = clients(clinic, 1 + waiting)
    (seated,) = fill(inst, people[:1])
    queued = waitlist(inst, people[1:])
    move_clock(FROZEN.add(hours=1))
    seats.cancel_enrolment(seated.id, STAFF)
    return inst, queued


def test_accept_a_seat_within_the_hold(clinic: Clinic) -> None:
    inst, (first, second) = offered_seat(clinic)
    move_clock(FROZEN.add(hours=2, minutes=59))
    view = seat_offers.accept_seat(str(first.id)[:10], STAFF)
    assert view.status == "enrolled" and view.version == 3
    assert actions_of(first)[-1] == "enrolment.accept"
    assert status_of(second) == "waitlisted"
    assert instances.get_instance(inst.id).enrolled == 1
    assert_rejected(
        lambda: seat_offers.accept_seat(first.id, STAFF), Conflict, "enrolment is enrolled"
    )


def test_accept_or_decline_after_the_hold_is_a_conflict(clinic: Clinic) -> None:
    _, (first, _) = offered_seat(clinic)
    move_clock(FROZEN.add(hours=3))  # offered at +1h, held 120 minutes
    for answer in (seat_offers.accept_seat, seat_offers.decline_seat):
        err = assert_rejected(
            lambda answer=answer: answer(first.id, STAFF), Conflict, "the seat offer expired"
        )
        assert err.code == 4090
    assert status_of(first) == "offered"


def test_decline_a_seat_offers_it_to_the_next(clinic: Clinic) -> None:
    _, (first, second) = offered_seat(clinic)
    move_clock(FROZEN.add(hours=1, minutes=10))
    result = seat_offers.decline_seat(first.id, STAFF)
    assert result.status == "cancelled"
    assert actions_of(first)[-1] == "enrolment.decline"
    assert [p.id for p in result.promoted] == [second.id]
    nxt = enrolments.get_enrolment(second.id)
    assert nxt.status == "offered" and nxt.expires_at == FROZEN.add(hours=3, minutes=10)
    assert_rejected(
        lambda: seat_offers.decline_seat(first.id, STAFF), Conflict, "enrolment is closed"
    )


def test_answering_a_seat_that_was_not_offered_is_a_conflict(clinic: Clinic) -> None:
    inst = instance(clinic, capacity=1)
    seat, waiting = clients(clinic, 2)
    (seated,) = fill(inst, [seat])
    (queued,) = waitlist(inst, [waiting])
    assert_rejected(lambda: seat_offers.accept_seat(queued.id, STAFF), Conflict, "no seat offer")
    assert_rejected(lambda: seat_offers.decline_seat(seated.id, STAFF), Conflict, "no seat offer")


def test_expire_seat_offers_cancels_and_promotes_the_next(clinic: Clinic) -> None:
    inst, (first, second) = offered_seat(clinic)
    assert seat_offers.expire_seat_offers(FROZEN.add(hours=2, minutes=59)) == 0
    assert status_of(first) == "offered"
    later = FROZEN.add(hours=3)
    move_clock(later)
    assert seat_offers.expire_seat_offers(later) == 1
    expired = enrolments.get_enrolment(first.id)
    assert expired.status == "cancelled" and expired.updated_by == "system"
    assert actions_of(first)[-1] == "enrolment.expired"
    nxt = enrolments.get_enrolment(second.id)
    assert nxt.status == "offered" and nxt.offered_at == later
    assert nxt.expires_at == later.add(minutes=120)
    assert seat_offers.expire_seat_offers(later) == 0
    counts = instances.get_instance(inst.id)
    assert (counts.offered, counts.waitlist_length, counts.seats_free) == (1, 0, 0)


def test_expiry_with_an_empty_waitlist_frees_the_seat(clinic: Clinic) -> None:
    inst, (only,) = offered_seat(clinic, waiting=1)
    move_clock(FROZEN.add(hours=4))
    assert seat_offers.expire_seat_offers() == 1
    assert status_of(only) == "cancelled"
    assert instances.get_instance(inst.id).seats_free == 1


# --- concurrency --------------------------------------------------------------------------------


DESKS = 4
ROUNDS = 20


def desk(inst: EventInstance, client: Client, barrier: threading.Barrier, outcomes: list) -> None:
    """One desk on its own connection: enrol `client` as soon as every desk is ready."""
    with database.connection_context():
        barrier.wait()
        try:
            seats.enrol(inst.id, client.id, f"desk-{client.first_name}")
            outcomes.append("seat")
        except Conflict as err:
            outcomes.append(err.message)
        except BaseException as err:  # reported by the test, not lost in the thread
            outcomes.append(repr(err))


def test_desks_racing_for_the_last_seat_never_both_get_it(clinic: Clinic) -> None:
    """Each round: a class with one free seat, DESKS desks enrolling different clients into it
    at once (own connection each). Exactly one gets the seat; the others get the 4090."""
    people = clients(clinic, 1 + DESKS)
    for round_ in range(ROUNDS):
        inst = instance(clinic, capacity=2, starts_at=SOON.add(hours=round_))
        fill(inst, people[:1])
        barrier = threading.Barrier(DESKS)
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=desk, args=(inst, c, barrier, outcomes)) for c in people[1:]
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == [statuses.FULL] * (DESKS - 1) + ["seat"], f"round {round_}"
        stored = Enrolment.select().where(
            (Enrolment.instance == inst) & (Enrolment.status == "enrolled")
        )
        assert stored.count() == 2, f"round {round_}"
