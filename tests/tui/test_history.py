"""An entry's history from the queue (`h`): its audit trail as a list, oldest first, with the
highlighted row's changes in full under it (issue 19). Keyboard only; a snapshot at SIZE."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.conftest import entry_payload
from tests.domain.fill_helpers import monday_opening
from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.waitlist import adding, changes
from waitlist_tui.tui.screens.history import HistoryScreen
from waitlist_tui.tui.screens.queue import QueueScreen


def entry_with_history() -> None:
    """One entry: added, its notes changed, offered a Monday slot, the offer declined."""
    entry = adding.create(entry_payload(preferred_providers=[], preferred_days=[]), "maria")
    changes.update(entry.id, {"notes": "Prefers mornings; calls after 5"}, "maria")
    offer = offers.offer(monday_opening().id, "tomas", entry_id=entry.id)[0]
    offers.decline(offer.id, "tomas", note="busy that day")


async def open_history(pilot) -> None:
    await settle(pilot)
    await pilot.press("h")
    await settle(pilot)


def test_history_snapshot(clinic_only_db, snap_compare) -> None:
    entry_with_history()
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_history)


async def test_history_opens_from_the_queue_and_escape_goes_back(clinic_only_db) -> None:

    entry_with_history()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_history(pilot)
        assert isinstance(app.screen, HistoryScreen)
        actions = [r.action for r in app.screen.rows]
        assert actions[0] == "entry.create" and "entry.update" in actions
        assert "offer.declined" in actions or any(a.startswith("offer.") for a in actions)
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(actions)
        await pilot.press("down")
        await pilot.pause()
        detail = str(app.screen.query_one("#history-detail").render())
        assert "Prefers mornings; calls after 5" in detail
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
