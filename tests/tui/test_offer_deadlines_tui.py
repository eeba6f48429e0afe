"""The screens show the domain's true deadline: triage counts down to the slot's cutoff when
it comes before the hold, the finder warns before an offer that quiet hours mean phoning, and
the app's own timer ends what is late."""

from __future__ import annotations

import pendulum
from textual.widgets import DataTable, Static

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry
from tests.timetravel import frozen_at
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_triage import open_triage
from waitlist_tui.domain.fill import offer_time, offers
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.store.models import Offer, Opening
from waitlist_tui.tui.screens.finder import FinderScreen

NY = "America/New_York"


def today_offer() -> offers.OfferView:
    """An offer of KIM's 11:00 today, made at 09:30: the hold says 11:30, the cutoff 10:00."""
    entry = add_entry("Ann", date_range_start="2026-11-20")
    opening = add_opening("KIM", "2026-11-20T11:00", 60, STAFF)
    return offers.offer(opening.id, STAFF, entry_id=entry.id)[0]


async def test_triage_counts_down_to_the_slot_cutoff(clinic_only_db) -> None:
    sent = today_offer()
    # even an offer stored with the plain hold (made before the rule, or before the clinic
    # raised min_notice) shows the capped deadline
    Offer.update(expires_at=pendulum.datetime(2026, 11, 20, 11, 30, tz=NY)).execute()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_triage(pilot)
        row = app.screen.query_one(DataTable).get_row(str(sent.id))
        assert str(row[0]) == "30m 00s"  # to 10:00, not "2h 00m" to 11:30


async def test_finder_says_phone_before_the_offer_is_made(clinic_only_db) -> None:
    with frozen_at(pendulum.datetime(2026, 11, 20, 22, 0, tz=NY)):
        add_entry("Ann", date_range_start="2026-11-21")
        opening = add_opening("PATEL", "2026-11-21T09:00", 60, STAFF)
        app = make_test_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            finder = FinderScreen()
            app.push_screen(finder)
            await settle(pilot)
            finder.find(opening.id)
            await settle(pilot)
            status = str(finder.query_one("#finder-status", Static).render())
            assert offer_time.PHONE_QUIET in status and "reply by Sat 00:00" in status


async def test_the_app_timer_ends_late_offers(clinic_only_db) -> None:
    sent = today_offer()
    with frozen_at(pendulum.datetime(2026, 11, 20, 10, 0, tz=NY)):
        app = make_test_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            worker = app.expire_due()
            await worker.wait()
            assert worker.result is not None and worker.result["offers_expired"] == 1
        assert Offer.get_by_id(sent.id).status == "expired"
        assert Opening.get_by_id(sent.opening_id).status == "closed"
