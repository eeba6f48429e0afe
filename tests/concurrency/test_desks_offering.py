"""Desks that do not trip over each other: 8 desks (threads, each with its own connection)
open slots and broadcast them to the top 3 at the same moment, on each backend.

Before candidates were claimed, every desk picked the same top candidates on PostgreSQL and most
broadcasts were refused ("waitlist request changed meanwhile; look again"). Now each desk gets
the next free candidates: no broadcast is refused, every opening a desk opened has its offers,
and no entry holds two live offers. The dates are the frozen clock's (Friday 2026-11-20).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

from tests.concurrency.desks import broadcast_rounds, desk_slots, invariants
from tests.domain.fill_helpers import add_entry
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic, Offer, Opening, Provider, Service

DESKS = 8
ROUNDS = 4
TOP = 3


def test_desks_broadcasting_at_once_each_get_free_candidates(clinic: Clinic) -> None:
    for i in range(DESKS * ROUNDS * TOP + 10):
        add_entry(
            f"Desk{i}", service="PT-FU", date_range_start="2026-11-21", date_range_end="2026-12-20"
        )
    kim = Provider.get(Provider.code == "KIM").id
    follow_up = Service.get(Service.code == "PT-FU").id
    monday = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
    barrier = threading.Barrier(DESKS)
    tallies: list[Counter[str]] = []
    errors: list[BaseException] = []

    def desk(n: int) -> None:
        try:
            with database.connection_context():
                slots = desk_slots(kim, follow_up, monday, n, ROUNDS, 30)
                barrier.wait()
                tallies.append(broadcast_rounds(slots, TOP, f"desk{n}"))
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(DESKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    total = sum(tallies, Counter())
    assert total == Counter(sent=DESKS * ROUNDS, offers=DESKS * ROUNDS * TOP), total
    assert Opening.select().count() == DESKS * ROUNDS
    assert Offer.select().count() == DESKS * ROUNDS * TOP
    assert invariants([f"desk{n}" for n in range(DESKS)]) == []


def test_two_overlapping_openings_never_book_the_provider_twice(clinic: Clinic) -> None:
    """Two desks that open overlapping times at the same moment both pass the overlap check
    (neither sees the other's uncommitted opening on PostgreSQL). The second opening is made
    here as that race leaves it; accepting both books the provider once."""
    from waitlist_tui.domain import clock
    from waitlist_tui.domain.errors import Conflict
    from waitlist_tui.domain.fill import offers
    from waitlist_tui.domain.fill.slot_offers import offer_slot
    from waitlist_tui.domain.store.models import Appointment

    for i in range(2):
        add_entry(
            f"Both{i}", service="PT-FU", date_range_start="2026-11-21", date_range_end="2026-12-20"
        )
    kim = Provider.get(Provider.code == "KIM")
    follow_up = Service.get(Service.code == "PT-FU")
    first = offer_slot(
        desk_slots(kim.id, follow_up.id, dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC), 0, 1, 30)[
            0
        ],
        "desk0",
    )
    raced = Opening.create_by(
        "desk1",
        clock.now(),
        clinic=clinic,
        provider=kim,
        service=follow_up,
        starts_at=dt.datetime(2026, 11, 23, 14, 15, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 23, 14, 45, tzinfo=dt.UTC),
        source="manual",
    )
    second = offers.offer(raced.id, "desk1")
    offers.accept(first[0].id, "desk0")
    try:
        offers.accept(second[0].id, "desk1")
    except Conflict as err:
        assert "KIM was booked at that time meanwhile" in err.message
    else:
        raise AssertionError("the provider was booked twice")
    assert Appointment.select().where(Appointment.status == "booked").count() == 1
    assert Opening.get_by_id(raced.id).status == "open"
    assert invariants() == []
