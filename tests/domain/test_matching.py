"""Matching (DESIGN.md section 4): hard rules exclude, soft rules make PARTIAL, ranking."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from playhouse.test_utils import count_queries

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.timetravel import frozen_at
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import matching, offers
from waitlist_tui.domain.store.models import Clinic, Entry
from waitlist_tui.domain.waitlist import changes


def names(opening, **kw) -> list[str]:
    return [c.client_name.split()[0] for c in matching.candidates(opening, **kw).items]


def test_hard_rules_exclude(clinic: Clinic) -> None:
    add_entry("Fits")
    add_entry("Cancelled")
    changes.cancel(add_entry("Gone").id, STAFF)
    add_entry("Massage", service="MASSAGE")  # KIM does not offer massage
    add_entry("Later", date_range_start="2026-11-24", date_range_end="2026-12-10")
    add_entry("Earlier", date_range_start="2026-11-20", date_range_end="2026-11-22")
    add_entry("Expiring", expires_at="2026-11-21T12:00:00Z")
    opening = monday_opening()
    got = names(opening)
    assert "Fits" in got and "Cancelled" in got
    assert not {"Gone", "Massage", "Later", "Earlier"} & set(got)
    short = monday_opening("10:00", minutes=30)  # PT-EVAL takes 60 minutes
    assert names(short) == []
    follow_up = add_entry("Quick", service="PT-FU")
    assert names(short) == ["Quick"]
    with frozen_at(pendulum.datetime(2026, 11, 21, 18, tz="UTC")):
        assert "Expiring" not in names(opening)
    assert follow_up.status == "waiting"


def test_soft_rules_make_partial_with_reasons(clinic: Clinic) -> None:
    exact = add_entry(
        "Exact",
        preferred_providers=["KIM"],
        preferred_days=["MONDAY"],
        preferred_time_slots=["MORNING"],
    )
    add_entry("WrongProvider", preferred_providers=["PATEL"])
    add_entry("WrongDay", preferred_days=["TUESDAY", "FRIDAY"])
    add_entry("Afternoon", preferred_time_slots=["AFTERNOON"])
    add_entry("Window", preferred_time_start="10:00", preferred_time_end="14:00")
    add_entry("Anytime", preferred_time_slots=["ANYTIME", "EVENING"])
    result = matching.candidates(monday_opening("09:00"))
    by_name = {c.client_name.split()[0]: c for c in result.items}
    assert by_name["Exact"].match_type == "EXACT" and by_name["Exact"].fails == ()
    assert by_name["Exact"].explanation.startswith("prefers KIM; prefers Mon; prefers mornings")
    assert by_name["Anytime"].match_type == "EXACT"
    assert by_name["WrongProvider"].fails == ("provider",)
    assert "wants PATEL, slot is with KIM" in by_name["WrongProvider"].explanation
    assert by_name["WrongDay"].fails == ("day",)
    assert "wants Tue Fri, slot is Mon" in by_name["WrongDay"].explanation
    assert by_name["Afternoon"].fails == ("time",)
    assert by_name["Window"].fails == ("time",)  # 09:00 is before the 10:00-14:00 window
    assert (result.total, result.exact) == (6, 2)
    assert [c.match_type for c in result.items][:2] == ["EXACT", "EXACT"]
    exact_only = matching.candidates(monday_opening("13:00"), include_partial=False)
    assert {c.client_name.split()[0] for c in exact_only.items} == {
        "Afternoon",
        "Window",
        "Anytime",
    }
    assert exact.id in {c.entry_id for c in result.items}


def test_ranking_exact_then_priority_then_wait_then_id(clinic: Clinic) -> None:
    with frozen_at(pendulum.datetime(2026, 11, 1, 14, tz="UTC")):
        old = add_entry("Old", date_range_start="2026-11-20", date_range_end="2026-11-30")
    urgent = add_entry("Urgent", priority=1, preferred_days=["FRIDAY"])  # PARTIAL on Monday
    new = add_entry("New")
    top = add_entry("Top", priority=2)
    result = matching.candidates(monday_opening())
    assert [c.entry_id for c in result.items] == [top.id, old.id, new.id, urgent.id]
    assert result.items[1].waited_days == 19
    assert "19 days waiting; priority 3" in result.items[1].explanation


def test_limit_and_prior_offers(clinic: Clinic) -> None:
    for i in range(5):
        add_entry(f"P{i}")
    opening = monday_opening()
    assert len(matching.candidates(opening, limit=3).items) == 3
    sent = offers.offer(opening.id, STAFF)
    offers.decline(sent[0].id, STAFF)
    assert sent[0].entry_id not in {c.entry_id for c in matching.candidates(opening).items}
    with pytest.raises(ValidationError, match="limit"):
        matching.candidates(opening, limit=0)


def test_notify_candidates(clinic: Clinic) -> None:
    add_entry("Monday", preferred_days=["MONDAY"])
    add_entry("Any")
    add_entry("Friday", preferred_days=["FRIDAY"])
    add_entry("Follow", service="PT-FU")
    result = matching.notify_candidates("PT-EVAL", dt.date(2026, 11, 23))
    assert sorted(c["client"]["first_name"] for c in result["clients"]) == ["Any", "Monday"]
    assert result["message"] == "Found 2 clients to notify about availability on 2026-11-23"
    assert result["clients"][0]["client"]["phone"].startswith("+1617555")
    assert Entry.select().count() == 4


def test_an_opening_no_waiting_entry_asks_for_costs_one_look(clinic: Clinic) -> None:
    """The finder's candidates for a day no waiting entry's dates hold: none, after one
    statement on the demand index rather than the ranked walks over every waiting entry."""
    for i in range(3):
        add_entry(f"Dec{i}", date_range_start="2026-11-24", date_range_end="2026-12-10")
    opening = monday_opening()  # Mon 23 Nov: before every entry's range
    slot = matching.SlotShape.of(opening)  # the opening's services and provider, read once
    with count_queries() as counted:
        found = matching.candidates(opening, slot=slot)
    assert (found.items, found.total, found.exact) == ([], 0, 0)
    assert counted.count == 1
    add_entry("Nov", date_range_start="2026-11-20", date_range_end="2026-11-23")
    found = matching.candidates(opening)
    assert [c.client_name.split()[0] for c in found.items] == ["Nov"]
    assert (found.total, found.exact) == (1, 1)
    # an entry of another service whose dates hold the day does not open the walk
    short = monday_opening("11:00", minutes=30)  # too short for PT-EVAL, PT-FU fits
    slot = matching.SlotShape.of(short)
    with count_queries() as counted:
        assert matching.candidates(short, slot=slot).items == []
    assert counted.count == 1
