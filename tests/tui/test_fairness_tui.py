"""The fairness record on screen: `w` in the finder and triage, `x` (skip with a reason) in
the finder, and the lead-time rule the finder names. Snapshots and key paths."""

from __future__ import annotations

from tests.conftest import STAFF
from tests.domain.test_lead_time import RULES
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_finder import a_morning, open_finder, status
from tests.tui.test_triage import in_line, open_triage
from waitlist_tui.domain.fill import contact_attempts, fairness, lead_time
from waitlist_tui.domain.store.models import Clinic, OfferRanking
from waitlist_tui.tui.screens.fairness_dialogs import SkipDialog, WhyDialog


def _cancel_bea_skip_ann(reason: str = "asked for afternoons only"):
    async def steps(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")  # Bea cancels: her 11:00 is the opening
        await settle(pilot)
        await pilot.press("x", *reason, "enter")  # Ann, the best candidate, is skipped
        await settle(pilot)

    return steps


def test_finder_skip_dialog_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def ask(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("x", *"asked for afternoons")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=ask)


def test_finder_why_after_a_skip_snapshot(clinic_only_db, snap_compare) -> None:
    a_morning()

    async def why(pilot) -> None:
        await _cancel_bea_skip_ann()(pilot)
        await pilot.press("enter")  # offer to the cursor candidate, Dan
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=why)


def test_finder_names_the_lead_time_rule_snapshot(clinic_only_db, snap_compare) -> None:
    clinic = Clinic.get()
    settings = {**clinic.settings, lead_time.SETTING: lead_time.parse(RULES)}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    a_morning()

    async def cancel_bea(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=cancel_bea)


def test_finder_marks_a_client_contacted_too_recently_snapshot(
    clinic_only_db, snap_compare
) -> None:
    """A clinic that waits 4 h between offers to one client: Ann, offered another slot a
    moment ago, fits Bea's 11:00 but an offer now passes her over, and her row says so."""
    from waitlist_tui.domain.fill import offer_spacing, offers
    from waitlist_tui.domain.fill.openings import add_opening

    clinic = Clinic.get()
    Clinic.update(settings={**clinic.settings, offer_spacing.SETTING: 4}).where(
        Clinic.id == clinic.id
    ).execute()
    people = a_morning()
    earlier = add_opening("KIM", "2026-11-24T13:00", 60, STAFF)
    offers.rescind(offers.offer(earlier.id, STAFF, entry_id=people["ann"].id)[0].id, STAFF)

    async def cancel_bea(pilot) -> None:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=cancel_bea)


def test_triage_why_snapshot(clinic_only_db, snap_compare) -> None:
    Clinic.update(no_answer_advances=True).execute()
    sent, _ = in_line()
    contact_attempts.log_attempt(sent.id, "no_answer", STAFF)  # Bob gets it next

    async def why(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("w")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=why)


async def test_skip_with_a_reason_writes_it_and_the_list_moves_on(clinic_only_db) -> None:
    people = a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await _cancel_bea_skip_ann("moved away")(pilot)
        skip = OfferRanking.get(OfferRanking.kind == "skip")
        assert (skip.entry_id, skip.reason, skip.created_by) == (
            people["ann"].id,
            "moved away",
            STAFF,
        )
        assert app.screen.items[0].client_name == "Dan Wu"


async def test_a_blank_reason_is_refused_in_the_dialog(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        await pilot.press("x", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SkipDialog)
        await pilot.press("escape")
        await pilot.pause()
    assert OfferRanking.select().where(OfferRanking.kind == "skip").count() == 0


async def test_why_before_any_offer_says_so(clinic_only_db) -> None:
    a_morning()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_finder(pilot)
        await pilot.press("enter", "y")
        await settle(pilot)
        assert "starts in" not in status(app)  # no rules, nothing chosen by hand
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WhyDialog)
        assert app.screen.why.text() == "not offered yet: no ranking recorded"


async def test_triage_why_shows_the_record(clinic_only_db) -> None:
    sent, _ = in_line()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WhyDialog)
        assert app.screen.why.latest() == fairness.why(sent.opening_id).latest()
        assert app.screen.why.latest().startswith("offered to #1 Ann Lee (EXACT, priority 1")


def _fairness_history() -> None:
    """Lead-time rules; a slot today broadcast to three and filled half an hour later; a
    Monday slot where the desk skipped the best candidate; and a long waiter never offered."""
    import datetime as dt

    import time_machine

    from tests.domain.fill_helpers import add_entry
    from waitlist_tui.domain import clock
    from waitlist_tui.domain.fill import offers
    from waitlist_tui.domain.fill.openings import add_opening
    from waitlist_tui.domain.store.models import Entry

    clinic = Clinic.get()
    settings = {**clinic.settings, lead_time.SETTING: lead_time.parse(RULES)}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    people = [
        add_entry(
            client={"first_name": first, "last_name": "Park", "phone": f"617-555-01{i:02d}"},
            date_range_start="2026-11-20",
            priority=1 + i % 3,
        )
        for i, first in enumerate(("Ann", "Bob", "Cy", "Dee"))
    ]
    for i, person in enumerate(people):  # distinct waits: the ranking is fixed
        Entry.update(created_at=clock.now() - dt.timedelta(days=9 - i)).where(
            Entry.id == person.id
        ).execute()
    old = add_entry(
        client={"first_name": "Old", "last_name": "Timer", "phone": "617-555-0199"},
        priority=5,
        preferred_days=["TUESDAY"],
    )
    Entry.update(created_at=clock.now() - dt.timedelta(days=40)).where(Entry.id == old.id).execute()
    soon = add_opening("KIM", "2026-11-20T14:00", 60, STAFF, outside_hours_ok=True)
    sent = offers.offer(soon.id, STAFF)
    with time_machine.travel(clock.now() + dt.timedelta(minutes=30), tick=False):
        offers.accept(sent[0].id, STAFF)
    monday = add_opening("KIM", "2026-11-23T09:00", 60, STAFF)
    assert sent[0].entry_id == people[0].id  # Ann booked; Dee (priority 1) is next in line
    fairness.skip_candidate(monday.id, people[3].id, "asked for afternoons", STAFF)
    offers.offer(monday.id, STAFF)


def test_dashboard_fairness_panel_snapshot(clinic_only_db, snap_compare) -> None:
    from tests.tui.test_dashboard import open_dashboard

    _fairness_history()

    async def panel(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=panel)


async def test_fairness_panel_shows_both_reports(clinic_only_db) -> None:
    from tests.tui.test_dashboard import open_dashboard

    _fairness_history()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.pause(0.5)
        title = str(app.screen.query_one("#fair-title").render())
        assert "rankings recorded" in title, title


def test_demo_fairness_panel_snapshot(demo_db, snap_compare) -> None:
    """`waitlist-tui demo`, S then f: the demo's history in the panel."""
    from tests.tui.test_dashboard import open_dashboard

    async def panel(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=panel)


def test_fairness_panel_by_service_and_by_provider_snapshots(clinic_only_db, snap_compare) -> None:
    """`b` switches the wait before a first offer to by service (once) and by provider
    (twice); the snapshot is the provider split, each press checked below."""
    from tests.tui.test_dashboard import open_dashboard

    _fairness_history()

    async def panel(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("b", "b")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=panel)


async def test_fairness_panel_switches_the_wait_split(clinic_only_db) -> None:
    from tests.tui.test_dashboard import open_dashboard
    from waitlist_tui.domain.stats.fairness import fairness_report

    _fairness_history()
    report = fairness_report()["wait_before_first_offer"]
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.pause(0.5)
        table = app.screen.query_one("#fair-waits")

        def shown() -> tuple[str, list[str]]:
            first = str(table.ordered_columns[0].label)
            return first, [str(table.get_row_at(i)[0]) for i in range(table.row_count)]

        assert shown() == ("Priority", [str(r["key"]) for r in report["by_priority"]])
        await pilot.press("b")
        await pilot.pause()
        assert shown() == ("Service", [r["key"] for r in report["by_service"]])
        await pilot.press("b")
        await pilot.pause()
        assert shown() == ("Provider", [r["key"] for r in report["by_provider"]])
        await pilot.press("b")
        await pilot.pause()
        assert shown()[0] == "Priority"


def test_demo_fairness_panel_by_service_snapshot(demo_db, snap_compare) -> None:
    """The demo's history, `b` once: the wait before a first offer by service."""
    from tests.tui.test_dashboard import open_dashboard

    async def panel(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=panel)


def test_triage_why_names_hard_rules_and_a_recent_contact_snapshot(
    clinic_only_db, snap_compare
) -> None:
    """A clinic that waits 4 h between offers to one client: Ann, offered an hour's slot a
    moment ago, is passed over for Bob; Eve's service is longer than the 30 minutes and
    Fay's date range starts in December, each named with its hard rule."""
    from tests.tui.test_triage import waiting
    from waitlist_tui.domain.fill import offer_spacing, offers
    from waitlist_tui.domain.fill.openings import add_opening

    clinic = Clinic.get()
    settings = {**clinic.settings, offer_spacing.SETTING: 4}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    ann = waiting("Ann", "Lee", "617-555-0101", "PT-FU", priority=1)
    waiting("Bob", "Stone", "617-555-0102", "PT-FU", priority=2)
    waiting("Eve", "Park", "617-555-0105", priority=3)
    waiting(
        "Fay",
        "Ross",
        "617-555-0106",
        "PT-FU",
        priority=4,
        date_range_start="2026-12-10",
        date_range_end="2026-12-18",
    )
    earlier = add_opening("KIM", "2026-11-24T13:00", 60, STAFF)
    first = offers.offer(earlier.id, STAFF, entry_id=ann.id)[0]
    offers.rescind(first.id, STAFF)
    monday = add_opening("KIM", "2026-11-23T09:00", 30, STAFF)
    assert offers.offer(monday.id, STAFF)[0].client_name == "Bob Stone"

    async def why(pilot) -> None:
        await open_triage(pilot)
        await pilot.press("w")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=why)
