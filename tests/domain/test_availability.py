"""Free time and slots for an entry, including daylight-saving weeks in the clinic's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pendulum

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry
from tests.timetravel import frozen_at
from waitlist_tui.domain.fill import availability, offers, openings
from waitlist_tui.domain.store.models import Clinic, Entry, Provider, TimeOff


def slots_of(entry_view, **kw) -> list[tuple[str, str, list[str]]]:
    entry = Entry.get_by_id(entry_view.id)
    return [
        (g.date.isoformat(), g.provider_code, [s.isoformat()[11:16] for s, _ in g.slots])
        for g in availability.find_matching_slots(entry, **kw)
    ]


def test_slots_follow_hours_preferences_and_bookings(clinic: Clinic) -> None:
    entry = add_entry(
        "Mon",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY"],
        preferred_time_slots=["MORNING"],
        date_range_start="2026-11-21",
        date_range_end="2026-11-30",
    )
    # KIM, Monday 23rd: 08:00-12:00 local = 13:00-17:00Z; 60-minute PT-EVAL slots
    assert slots_of(entry) == [
        ("2026-11-23", "KIM", ["13:00", "14:00", "15:00", "16:00"]),
        ("2026-11-30", "KIM", ["13:00", "14:00", "15:00", "16:00"]),
    ]
    # An open opening and time off are not free time
    openings.add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    kim = Provider.get(Provider.code == "KIM")
    TimeOff.create(
        provider=kim,
        starts_at=pendulum.datetime(2026, 11, 30, 13, tz="UTC"),
        ends_at=pendulum.datetime(2026, 11, 30, 15, 30, tz="UTC"),
    )
    got = slots_of(entry)
    assert got[0] == ("2026-11-23", "KIM", ["13:00", "15:00", "16:00"])
    assert got[1] == ("2026-11-30", "KIM", ["15:30"])  # a block resumes after the time off
    assert sum(len(g[2]) for g in slots_of(entry, limit=2)) == 2
    # A week of time off (longer than any appointment) clears every day it covers
    TimeOff.create(
        provider=kim,
        starts_at=pendulum.datetime(2026, 11, 22, tz="UTC"),
        ends_at=pendulum.datetime(2026, 12, 1, tz="UTC"),
    )
    assert slots_of(entry) == []


def test_booking_removes_the_slot(clinic: Clinic) -> None:
    entry = add_entry(
        "A",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY"],
        preferred_time_start="09:00",
        preferred_time_end="11:00",
        date_range_start="2026-11-21",
        date_range_end="2026-11-24",
    )
    assert slots_of(entry) == [("2026-11-23", "KIM", ["14:00", "15:00"])]
    opening = openings.add_opening("KIM", "2026-11-23T10:00", 60, STAFF)
    offers.accept(offers.offer(opening.id, STAFF, entry_id=entry.id)[0].id, STAFF)
    other = add_entry(
        "B",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY"],
        preferred_time_start="09:00",
        preferred_time_end="11:00",
        date_range_start="2026-11-21",
        date_range_end="2026-11-24",
    )
    assert slots_of(other) == [("2026-11-23", "KIM", ["14:00"])]


def test_any_provider_who_offers_the_service(clinic: Clinic) -> None:
    entry = add_entry(
        "Any", service="MASSAGE", date_range_start="2026-11-24", date_range_end="2026-11-24"
    )
    assert {g[1] for g in slots_of(entry)} == {"OKAFOR"}  # only OKAFOR offers massage


def test_daylight_saving_weeks(clinic: Clinic) -> None:
    """KIM starts 08:00 local on Mondays: 13:00Z under EST, 12:00Z under EDT."""
    with frozen_at(pendulum.datetime(2027, 3, 1, 12, tz="UTC")):
        spring = add_entry(
            "Spring",
            preferred_providers=["KIM"],
            preferred_days=["MONDAY"],
            date_range_start="2027-03-08",
            date_range_end="2027-03-15",
        )
        first = slots_of(spring)
    assert first[0][0] == "2027-03-08" and first[0][2][0] == "13:00"
    assert first[1][0] == "2027-03-15" and first[1][2][0] == "12:00"
    with frozen_at(pendulum.datetime(2026, 10, 20, 12, tz="UTC")):
        fall = add_entry(
            "Fall",
            preferred_providers=["KIM"],
            preferred_days=["MONDAY"],
            date_range_start="2026-10-26",
            date_range_end="2026-11-02",
        )
        second = slots_of(fall)
    assert second[0][2][0] == "12:00" and second[1][2][0] == "13:00"


def test_wall_time_skips_the_gap() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    start = availability.wall_time(dt.date(2027, 3, 14), 150, zone)  # 02:30 does not exist
    assert start.isoformat() == "2027-03-14T07:30:00+00:00"  # 03:30 EDT
    assert availability.subtract([(1, 10)], [(2, 3), (5, 6)]) == [(1, 2), (3, 5), (6, 10)]  # type: ignore[list-item]


def test_outside_hours_names_the_day_or_the_hours(clinic: Clinic) -> None:
    outside_hours = availability.outside_hours

    kim = Provider.get(Provider.code == "KIM")
    zone = ZoneInfo("America/New_York")

    def at(day: int, hour: int, minute: int = 0, minutes: int = 60) -> str | None:
        start = dt.datetime(2026, 11, day, hour, minute, tzinfo=zone)
        return outside_hours(kim, start, start + dt.timedelta(minutes=minutes), clinic.time_zone)

    assert at(23, 9) is None  # Monday 09:00-10:00, inside 08:00-12:00
    assert at(22, 10) == "KIM does not work on Sundays"
    assert at(23, 1, 30) == "01:30-02:30 is outside KIM's hours on Mon (08:00-12:00, 13:00-17:00)"
    assert at(23, 11, 30) is not None  # runs past the noon break
