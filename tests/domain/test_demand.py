"""Where demand goes unmet (issue 22 part 4): the demand table, held to the slots screen's
own answer (find_matching_slots) entry by entry, and the suggestion of extra hours."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain import clock
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill.availability import find_matching_slots
from waitlist_tui.domain.stats.demand import demand
from waitlist_tui.domain.store.models import Clinic, Entry, Provider
from waitlist_tui.domain.waitlist import changes


def _cell(found, service, provider, weekday, part):
    return next(
        c
        for c in found.cells
        if (c.service, c.provider, c.weekday, c.part) == (service, provider, weekday, part)
    )


def _mix() -> None:
    """Entries that can and cannot be seen: nobody works Sundays; KIM never on Saturdays."""
    for i in range(3):
        add_entry(
            f"Sat{i}",
            preferred_providers=["KIM"],
            preferred_days=["SATURDAY"],
            preferred_time_slots=["MORNING"],
        )
    add_entry("Sun", preferred_days=["SUNDAY"])
    add_entry(
        "Mon",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY"],
        preferred_time_slots=["MORNING"],
    )
    add_entry("Anyone")
    add_entry("Early", preferred_time_start="06:00", preferred_time_end="07:30")
    add_entry(
        "Win", preferred_providers=["KIM"], preferred_time_start="09:15", preferred_time_end="10:20"
    )
    add_entry(
        "Two",
        preferred_providers=["KIM", "PATEL"],
        preferred_days=["TUESDAY", "SATURDAY"],
        preferred_time_slots=["EVENING"],
    )
    add_entry(
        "FU", service="PT-FU", preferred_providers=["OKAFOR"], preferred_time_slots=["AFTERNOON"]
    )


def test_cells_count_waiting_entries_where_their_preferences_point(clinic: Clinic) -> None:
    _mix()
    gone = add_entry(
        "Gone",
        preferred_providers=["KIM"],
        preferred_days=["SATURDAY"],
        preferred_time_slots=["MORNING"],
    )
    changes.cancel(gone.id, STAFF, reason="went elsewhere")
    found = demand()
    assert found.waiting_total == 10
    saturday = _cell(found, "PT-EVAL", "KIM", "SATURDAY", "MORNING")
    assert (saturday.waiting, saturday.no_free_slot, saturday.ended_without_offer) == (3, 3, 1)
    assert saturday.median_wait_days == 0.0
    monday = _cell(found, "PT-EVAL", "KIM", "MONDAY", "MORNING")
    assert (monday.waiting, monday.no_free_slot) == (1, 0)
    anyone = _cell(found, "PT-EVAL", "any", "any", "any")
    assert (anyone.waiting, anyone.no_free_slot) == (2, 1)  # Anyone fits; Early (06:00) not
    # "Two" points to 2 providers x 2 days x 1 part
    assert _cell(found, "PT-EVAL", "PATEL", "SATURDAY", "EVENING").waiting == 1
    assert found.cells[0].no_free_slot >= found.cells[-1].no_free_slot  # worst first
    top = found.suggestions[0]
    assert (top.provider, top.weekday, top.part, top.fits, top.hours) == (
        "KIM",
        "SATURDAY",
        "MORNING",
        4,  # the three, and Win (09:15-10:20 fits no slot of KIM's hour grid, any day)
        1,
    )
    assert (
        top.text == "1 extra hour of Dr. Alex Kim on Saturday mornings would fit 4 waiting entries"
    )
    rows = list(csv.DictReader(io.StringIO(found.to_csv())))
    assert len(rows) == len(found.cells) and rows[0]["no_free_slot"] == str(
        found.cells[0].no_free_slot
    )
    assert demand(service="PT-FU").waiting_total == 1
    with pytest.raises(ValidationError):
        demand(service="NOPE")


def test_no_free_slot_agrees_with_the_slots_screen_entry_by_entry(clinic: Clinic) -> None:
    """The oracle: an entry counts as having no free slot exactly when the slots screen
    (find_matching_slots) lists none for it; with the calendar partly taken."""
    _mix()
    monday_opening("08:00", minutes=240)  # KIM's Monday morning is an open opening: busy
    monday_opening("13:00", provider="PATEL", minutes=420)
    for i, start in enumerate(("09:00", "09:40", "10:40")):
        add_entry(
            f"Late{i}",
            preferred_providers=["KIM"],
            preferred_time_start=start,
            preferred_time_end="12:00",
            preferred_days=["MONDAY", "TUESDAY"],
        )
    expected = sum(
        1
        for e in Entry.select().where(Entry.status == "waiting")
        if not find_matching_slots(e, limit=1)
    )
    assert demand().no_free_slot_total == expected
    assert expected >= 4


def test_demand_never_writes(clinic: Clinic, backend: str) -> None:
    """stats/demand reads the free time through fill.availability (an import the stats wall
    lets through): the connection is read-only while it runs."""
    from waitlist_tui.domain.store.db import database

    _mix()
    on, off = (
        ("SET default_transaction_read_only = on", "SET default_transaction_read_only = off")
        if backend == "postgres"
        else ("PRAGMA query_only = ON", "PRAGMA query_only = OFF")
    )
    database.execute_sql(on)
    try:
        assert demand().waiting_total == 10
        assert demand(service="PT-FU").waiting_total == 1
    finally:
        database.execute_sql(off)


def _rounds(clinic: Clinic, done: int, n: int) -> None:
    """`n` times the mix (10 waiting entries, one of them with a date range of its own, so
    the grouped rows grow too) and one entry cancelled without an offer."""
    today = clock.today(clinic.time_zone)
    for i in range(done, done + n):
        _mix()
        start = today + dt.timedelta(days=i % 25)
        end = start + dt.timedelta(days=5 + i // 25)
        add_entry("Range", date_range_start=start.isoformat(), date_range_end=end.isoformat())
        gone = add_entry("Gone", preferred_providers=["PATEL"], preferred_days=["FRIDAY"])
        changes.cancel(gone.id, STAFF, reason="went elsewhere")


def test_query_count_does_not_grow_with_the_entries(clinic: Clinic) -> None:
    """Grouped reads only, never a statement per entry or per group: 550 waiting entries
    take as many statements as 55 (a regression to per-row work fails here)."""
    _rounds(clinic, 0, 5)
    with count_queries() as few:
        assert demand().waiting_total == 55
    _rounds(clinic, 5, 45)
    with count_queries() as many:
        found = demand()
    assert found.waiting_total == 550
    assert _cell(found, "PT-EVAL", "PATEL", "FRIDAY", "any").ended_without_offer == 50
    assert few.count == many.count <= 12


def test_ended_entries_count_under_their_active_providers(clinic: Clinic) -> None:
    """Ended entries are counted per preferred provider by a join: an inactive provider
    has no cell, and an entry whose providers are all inactive counts under "any"."""
    both = add_entry("Both", preferred_providers=["KIM", "PATEL"], preferred_days=["THURSDAY"])
    only = add_entry("Only", preferred_providers=["PATEL"], preferred_days=["THURSDAY"])
    for entry in (both, only):
        changes.cancel(entry.id, STAFF, reason="went elsewhere")
    Provider.update(active=False).where(Provider.code == "PATEL").execute()
    found = demand()
    assert _cell(found, "PT-EVAL", "KIM", "THURSDAY", "any").ended_without_offer == 1
    assert _cell(found, "PT-EVAL", "any", "THURSDAY", "any").ended_without_offer == 1
    assert not [c for c in found.cells if c.provider == "PATEL"]


def test_median_wait_and_ranges_out_of_sight(clinic: Clinic) -> None:
    """A cell's median wait counts the days added of every pattern pointing there; a range
    that ended before today or starts past the days the report sees has no free slot and
    suggests no hours."""
    now = clock.now()
    for i in range(5):  # waited 0, 2, 4, 6 and 8 days
        entry = add_entry(
            f"Wait{i}",
            preferred_providers=["KIM"],
            preferred_days=["MONDAY"],
            preferred_time_slots=["MORNING"],
        )
        Entry.update(created_at=now - dt.timedelta(days=2 * i)).where(
            Entry.id == entry.id
        ).execute()
    both = add_entry(
        "Both",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY", "TUESDAY"],
        preferred_time_slots=["MORNING"],
    )
    Entry.update(created_at=now - dt.timedelta(days=10)).where(Entry.id == both.id).execute()
    today = clock.today(clinic.time_zone)
    for name, start, end in (("Past", -20, -2), ("Far", 200, 230)):
        entry = add_entry(name, preferred_days=["FRIDAY"])
        Entry.update(
            date_range_start=today + dt.timedelta(days=start),
            date_range_end=today + dt.timedelta(days=end),
        ).where(Entry.id == entry.id).execute()
    found = demand()
    assert found.waiting_total == 8
    monday = _cell(found, "PT-EVAL", "KIM", "MONDAY", "MORNING")
    assert (monday.waiting, monday.median_wait_days) == (6, 5.0)
    assert _cell(found, "PT-EVAL", "KIM", "TUESDAY", "MORNING").median_wait_days == 10.0
    friday = _cell(found, "PT-EVAL", "any", "FRIDAY", "any")
    assert (friday.waiting, friday.no_free_slot) == (2, 2)
    assert not [s for s in found.suggestions if s.weekday == "FRIDAY"]
