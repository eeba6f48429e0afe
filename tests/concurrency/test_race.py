"""Desks racing: 8 workers, each with its own connection, accept offers of one broadcast
opening behind a barrier; exactly one booking every time, on each backend.

The dates below are the frozen clock's (Friday 2026-11-20, the `clinic` fixture freezes it), so
they hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import os
import threading

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry
from waitlist_tui.domain.errors import Conflict
from waitlist_tui.domain.fill import offers, openings
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Appointment, Clinic, Entry, Offer, Opening

WORKERS = 8
ROUNDS = int(os.environ.get("WAITLIST_RACE_ROUNDS", "200"))


def kim_slots() -> list[str]:
    """Every free half hour of KIM's week in the entries' range, as local ISO times."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from waitlist_tui.domain.fill.availability import free_blocks
    from waitlist_tui.domain.store.models import Provider

    clinic = Clinic.get()
    zone = ZoneInfo(clinic.time_zone)
    blocks = free_blocks(
        clinic, [Provider.get(Provider.code == "KIM")], dt.date(2026, 11, 21), dt.date(2026, 12, 20)
    )
    result = []
    for (_, _), intervals in sorted(blocks.items()):
        for start, end in intervals:
            while start + dt.timedelta(minutes=30) <= end:
                result.append(start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
                start += dt.timedelta(minutes=30)
    return result


def race_once(start: str) -> list[str]:
    opening = openings.add_opening("KIM", start, 30, STAFF, service="PT-FU")
    sent = offers.offer(opening.id, STAFF, workflow="BROADCAST", top=WORKERS)
    assert len(sent) == WORKERS
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def desk(offer_id) -> None:
        with database.connection_context():
            barrier.wait()
            try:
                offers.accept(offer_id, "desk")
                result = "booked"
            except Conflict as err:
                result = err.message
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=desk, args=(o.id,)) for o in sent]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Opening.get_by_id(opening.id).status == "filled"
    assert Offer.select().where(Offer.opening == opening, Offer.status == "accepted").count() == 1
    booked = (
        Appointment.select()
        .join(Opening, on=(Appointment.starts_at == Opening.starts_at))
        .where(Opening.id == opening.id, Appointment.provider == opening.provider)
        .count()
    )
    assert booked == 1
    return outcomes


def no_daily_cap(clinic: Clinic) -> None:
    """The same eight clients get an offer every round: the clinic's daily cap is off."""
    settings = dict(clinic.settings)
    settings["messages"] = {**settings["messages"], "max_offers_per_day": 0}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()


def test_eight_desks_accepting_one_opening(clinic: Clinic) -> None:
    no_daily_cap(clinic)
    for i in range(WORKERS):
        add_entry(
            f"Racer{i}", service="PT-FU", date_range_start="2026-11-21", date_range_end="2026-12-20"
        )
    starts = kim_slots()
    assert len(starts) >= ROUNDS
    for start in starts[:ROUNDS]:
        outcomes = race_once(start)
        assert outcomes.count("booked") == 1, outcomes
        assert set(outcomes) <= {"booked", "opening already filled"}, outcomes
        # Put the winner back on the list for the next round.
        winner = Entry.get(Entry.status == "booked")
        Entry.update(status="waiting", booked_at=None).where(Entry.id == winner.id).execute()
    assert Entry.select().where(Entry.status == "offered").count() == 0
