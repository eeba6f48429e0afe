"""The manager's fairness report and the lead-time split, read from the records."""

from __future__ import annotations

import datetime as dt

import time_machine

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.test_lead_time import with_rules
from waitlist_tui.domain import clock
from waitlist_tui.domain.fill import fairness, offers
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.stats.fairness import fairness_report, lead_time_report
from waitlist_tui.domain.store.models import Clinic, Entry


def test_passed_over_waits_and_never_offered(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    ben = add_entry("Ben", priority=2)
    old = add_entry("Old", priority=4)
    Entry.update(created_at=clock.now() - dt.timedelta(days=45)).where(Entry.id == old.id).execute()
    Entry.update(created_at=clock.now() - dt.timedelta(days=10)).where(Entry.id == ben.id).execute()
    opening = monday_opening()
    fairness.skip_candidate(opening.id, ana.id, "wants a female therapist", STAFF)
    offers.offer(opening.id, STAFF)
    report = fairness_report(clinic, wait_days=30)
    assert report["rankings"] == 1 and report["passed_over_count"] == 1
    item = report["passed_over"][0]
    assert item["offered"][0]["client"] == "Ben Test"
    assert item["passed_over"][0]["reason"] == "skipped by the desk: wants a female therapist"
    waits = report["wait_before_first_offer"]
    assert waits["by_priority"] == [{"key": 2, "entries": 1, "median_days": 10.0}]
    assert waits["by_service"][0]["key"] == "PT-EVAL"
    assert waits["by_provider"] == [{"key": "KIM", "entries": 1, "median_days": 10.0}]
    never = report["never_offered"]
    assert never["count"] == 1 and never["items"][0]["client"] == "Old Test"
    assert never["items"][0]["waited_days"] == 45
    assert fairness_report(clinic, wait_days=50)["never_offered"]["count"] == 0
    today = clock.today(clinic.time_zone)
    later = fairness_report(clinic, since=today + dt.timedelta(days=1))
    assert later["rankings"] == 0 and later["wait_before_first_offer"]["by_priority"] == []


def test_lead_time_bands_count_fills_and_offers(clinic: Clinic) -> None:
    clinic = with_rules(clinic)
    for name in ("Ana", "Ben", "Cy"):
        add_entry(name, date_range_start="2026-11-20")
    soon = add_opening("KIM", "2026-11-20T14:00", 60, STAFF, outside_hours_ok=True)
    sent = offers.offer(soon.id, STAFF)  # BROADCAST to 3 (top 5)
    assert len(sent) == 3
    with time_machine.travel(clock.now() + dt.timedelta(minutes=30), tick=False):
        offers.accept(sent[1].id, STAFF)
    add_entry("Di")
    monday_opening("10:00")  # never offered: not counted
    later = monday_opening("09:00")  # 71.5 h ahead
    offers.offer(later.id, STAFF)
    report = lead_time_report(clinic)
    assert report["configured"] is True
    bands = {b["band"]: b for b in report["bands"]}
    assert bands["<24h"] | {"rule": None} == {
        "band": "<24h",
        "from_hours": 0,
        "to_hours": 24,
        "rule": None,
        "openings": 1,
        "filled": 1,
        "fill_rate": 100.0,
        "offers": 3,
        "offers_per_fill": 3.0,
        "median_minutes_to_fill": 30.0,
    }
    assert bands["<24h"]["rule"] == {"workflow": "BROADCAST", "hold_minutes": None, "top": 5}
    assert (bands["24-72h"]["openings"], bands["24-72h"]["filled"]) == (1, 0)
    assert bands["24-72h"]["fill_rate"] == 0.0 and bands[">=72h"]["openings"] == 0


def test_lead_time_for_a_period(clinic: Clinic) -> None:
    add_entry("Ana")
    offers.offer(monday_opening().id, STAFF)
    today = clock.today(clinic.time_zone)
    this = lead_time_report(clinic, since=today, until=today)
    assert sum(b["openings"] for b in this["bands"]) == 1
    after = lead_time_report(clinic, since=today + dt.timedelta(days=1))
    assert sum(b["openings"] for b in after["bands"]) == 0


def test_a_passed_over_offer_is_dated_by_the_clinic_day(clinic: Clinic) -> None:
    """Offered at 21:00 in New York (02:00 UTC the next day): the panel's date is the desk's."""
    ana = add_entry("Ana", priority=1)
    add_entry("Ben", priority=2)
    opening = monday_opening()
    with time_machine.travel(dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC), tick=False):
        fairness.skip_candidate(opening.id, ana.id, "on holiday", STAFF)
        offers.offer(opening.id, STAFF)
    item = fairness_report(clinic)["passed_over"][0]
    assert item["at"].startswith("2026-11-21T02:00")
    assert item["on"] == "2026-11-20"
