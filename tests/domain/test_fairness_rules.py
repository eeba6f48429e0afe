"""The fairness record names each hard rule that kept a waiting entry out of a slot, with its
particulars, and counts the rest by rule; and a client offered too recently (the clinic's
`min_hours_between_offers`) is passed over with that reason. Both backends, frozen clock."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import STAFF, clinic_without_feeds
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog import tuning
from waitlist_tui.domain.catalog.clinics import clinic_dict
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import fairness, offer_spacing, offers
from waitlist_tui.domain.store.models import Clinic, Entry


def _kept_out(opening_id) -> list[tuple[str, tuple[str, ...], str]]:
    latest = fairness.why(opening_id).rankings[-1]
    return [(r.name.split()[0], r.reasons, r.reason_text) for r in latest.rows if r.rank is None]


def _spacing(clinic: Clinic, hours: int) -> None:
    settings = {**(clinic.settings or {}), offer_spacing.SETTING: hours}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()


def test_each_hard_rule_is_named_with_its_particulars(clinic: Clinic) -> None:
    add_entry("Ana", priority=1, service="PT-FU")  # fits the 30 minutes
    add_entry("Eve", priority=2)  # PT-EVAL takes 60
    add_entry(
        "Far",
        priority=3,
        service="PT-FU",
        date_range_start="2026-12-01",
        date_range_end="2026-12-20",
    )
    old = add_entry("Old", priority=4, service="PT-FU")
    Entry.update(expires_at=clock.now() - dt.timedelta(hours=1)).where(Entry.id == old.id).execute()
    add_entry("Zed", priority=5, service="MASSAGE")  # KIM does not do it: not considered
    opening = monday_opening(minutes=30)
    sent = offers.offer(opening.id, STAFF)
    assert sent[0].client_name == "Ana Test"
    assert _kept_out(opening.id) == [
        ("Eve", ("too_long",), "hard rule: PT-EVAL takes 60 min, the slot is 30 min"),
        ("Far", ("date_range",), "hard rule: wants 01 Dec-20 Dec, the slot is 23 Nov"),
        ("Old", ("entry_expired",), "hard rule: request expired 20 Nov"),
    ]
    latest = fairness.why(opening.id).to_dict()["rankings"][-1]
    eve = next(r for r in latest["rows"] if r["client"] == "Eve Test")
    assert (eve["state"], eve["reasons"], eve["detail"]) == (
        "not_offered",
        ["too_long"],
        "PT-EVAL takes 60 min, the slot is 30 min",
    )
    assert "#" not in eve["text"] and eve["text"].startswith("Eve Test not offered: hard rule")


def test_a_slot_for_one_service_names_the_others(clinic: Clinic) -> None:
    add_entry("Ana", priority=1, service="PT-FU")
    add_entry("Eve", priority=2)
    opening = monday_opening(minutes=60, service="PT-FU")
    offers.offer(opening.id, STAFF)
    assert _kept_out(opening.id) == [
        ("Eve", ("other_service",), "hard rule: the slot is for PT-FU, they want PT-EVAL"),
    ]


def test_beyond_those_named_the_rest_are_counted_by_rule(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fairness, "STORE_UNFIT", 1)
    add_entry("Ana", priority=1, service="PT-FU")
    add_entry("Eve", priority=2)
    for name in ("Ed", "Em"):
        add_entry(name, priority=3)
    for name in ("Far", "Fay"):
        add_entry(
            name,
            priority=4,
            service="PT-FU",
            date_range_start="2026-12-01",
            date_range_end="2026-12-20",
        )
    opening = monday_opening(minutes=30)
    offers.offer(opening.id, STAFF)
    latest = fairness.why(opening.id).rankings[-1]
    assert [r.name for r in latest.rows if r.rank is None] == ["Eve Test"]
    assert latest.rest == {"too_long": 2, "date_range": 2}
    assert latest.kept_out() == (
        "4 more kept out by hard rules (2 outside their date range, 2 wanting a longer service)"
    )
    assert latest.summary().endswith(latest.kept_out())


def test_a_client_offered_too_recently_is_passed_over(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    add_entry("Ben", priority=2)
    _spacing(clinic, 4)
    earlier = monday_opening("13:00")
    first = offers.offer(earlier.id, STAFF, entry_id=ana.id)[0]
    offers.rescind(first.id, STAFF)  # Ana waits again, offered a moment ago
    opening = monday_opening("09:00")
    sent = offers.offer(opening.id, STAFF)
    assert sent[0].client_name == "Ben Test"
    latest = fairness.why(opening.id).rankings[-1]
    ana_row = latest.rows[0]
    assert (ana_row.state, ana_row.reasons) == ("not_offered", ("recent",))
    assert ana_row.text() == "#1 Ana Test not offered: contacted too recently: offered 0 min ago"
    # by hand too: refused, saying when and why
    other = monday_opening("15:00")
    with pytest.raises(Conflict, match="offered 0 min ago; the clinic waits 4h between offers"):
        offers.offer(other.id, STAFF, entry_id=ana.id)


def test_the_finder_marks_who_an_offer_now_would_pass_over(clinic: Clinic) -> None:
    """What the offer path skips, the finder says beforehand, in the record's words: the
    spacing first, then the daily limit (3 by default); nobody else is marked."""
    from waitlist_tui.domain.fill.finder import find_for_opening

    ana, ben, cy = (add_entry(n, priority=p) for n, p in (("Ana", 1), ("Ben", 2), ("Cy", 3)))
    opening = monday_opening("09:00")
    assert find_for_opening(opening.id).held == {}
    first = offers.offer(monday_opening("13:00").id, STAFF, entry_id=ana.id)[0]
    offers.rescind(first.id, STAFF)
    for time in ("14:00", "15:00", "16:00"):  # Ben reaches the daily limit
        sent = offers.offer(monday_opening(time).id, STAFF, entry_id=ben.id)[0]
        offers.rescind(sent.id, STAFF)
    held = find_for_opening(opening.id).held
    assert held == {str(ben.id): "daily offer limit reached: 3 offers today"}
    _spacing(clinic, 4)  # the spacing is named first, as in the fairness record
    held = find_for_opening(opening.id).held
    assert held == {
        str(ana.id): "contacted too recently: offered 0 min ago",
        str(ben.id): "contacted too recently: offered 0 min ago",
    }
    assert offers.offer(opening.id, STAFF)[0].client_name == "Cy Test"  # as the finder said
    assert str(cy.id) not in held


def test_the_spacing_runs_out(clinic: Clinic) -> None:
    from tests.timetravel import move_to

    ana = add_entry("Ana", priority=1)
    _spacing(clinic, 3)
    first = offers.offer(monday_opening("13:00").id, STAFF, entry_id=ana.id)[0]
    offers.rescind(first.id, STAFF)
    move_to(clock.now() + dt.timedelta(hours=2, minutes=59))
    assert offers.offer(monday_opening("09:00").id, STAFF) == []
    move_to(clock.now() + dt.timedelta(minutes=2))
    assert offers.offer(monday_opening("11:00").id, STAFF)[0].client_name == "Ana Test"


def test_off_by_default_and_checked_in_the_setup_and_settings_files(clinic: Clinic) -> None:
    assert offer_spacing.hours(clinic) == 0 and clinic_dict(clinic)[offer_spacing.SETTING] == 0
    data = clinic_without_feeds()
    data["clinic"][offer_spacing.SETTING] = 6
    apply_setup(data, STAFF)
    assert offer_spacing.hours(Clinic.get()) == 6
    for bad in (-1, 721, 1.5, True, "4"):
        data["clinic"][offer_spacing.SETTING] = bad
        with pytest.raises(ValidationError, match="min_hours_between_offers must be a whole"):
            apply_setup(data, STAFF)
    parsed = tuning.parse_tuning({"clinic": {offer_spacing.SETTING: 2}})
    assert parsed.clinic == {offer_spacing.SETTING: 2}
    with pytest.raises(ValidationError, match="from 0 \\(off\\) to 720"):
        tuning.parse_tuning({"clinic": {offer_spacing.SETTING: 999}})
    assert tuning.apply_tuning(parsed, STAFF) == {offer_spacing.SETTING: [6, 2]}
    assert tuning.current()[offer_spacing.SETTING] == 2
    assert offer_spacing.hours(Clinic.get()) == 2


def test_a_capped_count_never_goes_below_zero(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count reads at most COUNT_CAP rows in no order: the entries named may be outside
    it (more kept out than the cap), and the rest is then what was read."""
    monkeypatch.setattr(fairness, "STORE_UNFIT", 1)
    monkeypatch.setattr(fairness, "COUNT_CAP", 2)
    add_entry("Ana", priority=1, service="PT-FU")
    for priority, name in enumerate(("Eve", "Ed", "Em", "Eli"), start=2):
        add_entry(name, priority=priority)
    opening = monday_opening(minutes=30)
    offers.offer(opening.id, STAFF)
    latest = fairness.why(opening.id).rankings[-1]
    assert [r.name for r in latest.rows if r.rank is None] == ["Eve Test"]
    assert 1 <= latest.rest["too_long"] <= 2
