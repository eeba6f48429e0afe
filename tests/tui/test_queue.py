"""The queue screen: snapshots of its states and key-driven checks."""

from __future__ import annotations

import gc
from zoneinfo import ZoneInfo

from textual.widgets import DataTable, Static

from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain.waitlist import changes, listing
from waitlist_tui.tui import calls, queue_data
from waitlist_tui.tui.queue_data import PAGE_SIZE


def test_queue_populated_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=settle)


def test_queue_no_clinic_snapshot(tui_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=settle)


def test_queue_empty_waitlist_snapshot(clinic_only_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=settle)


async def test_queue_lists_the_service_page_in_order(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        expected = listing.list_entries(listing.EntryQuery(limit=PAGE_SIZE))
        assert table.row_count == len(expected.items)
        assert [str(k.value) for k in table.rows] == [str(v.id) for v in expected.items]
        summary = str(app.screen.query_one("#summary", Static).render())
        assert summary.startswith(f"1–{len(expected.items)} of {expected.total:,} waiting")


async def test_a_first_page_read_before_start_is_shown_without_reading_again(
    demo_db, monkeypatch
) -> None:
    """`open_tui` reads the first page while the app loads: the queue shows it as its first
    paint and reads nothing more for it; a page another desk changed since comes on refresh."""
    first_page = queue_data.prefetch()
    first_page.result(timeout=10)
    reads = []
    real_read = calls.read_now

    def read_now(app, fn, *args):
        if fn is queue_data.fetch:
            reads.append(args)
        return real_read(app, fn, *args)

    monkeypatch.setattr(calls, "read_now", read_now)
    app = make_test_app()
    app.first_page = first_page
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(DataTable)
        expected = listing.list_entries(listing.EntryQuery(limit=PAGE_SIZE))
        assert [str(k.value) for k in table.rows] == [str(v.id) for v in expected.items]
        await settle(pilot)
        assert reads == [] and app.first_page is None
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(reads) == 1


async def test_paging_keeps_to_the_service_layer(demo_db) -> None:
    total = listing.list_entries(listing.EntryQuery(limit=1)).total
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == min(total, PAGE_SIZE)
        if total > PAGE_SIZE:
            await pilot.press("]")
            await settle(pilot)
            assert table.row_count == min(total - PAGE_SIZE, PAGE_SIZE)
            await pilot.press("[")
            await settle(pilot)
            assert table.row_count == PAGE_SIZE


async def test_refresh_shows_another_desks_change_and_keeps_cursor(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("down", "down")
        keep = list(table.rows)[2].value
        first = next(iter(table.rows)).value
        changes.cancel(first, "other-desk")  # another desk, same database
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert first not in [k.value for k in table.rows]
        assert list(table.rows)[table.cursor_row].value == keep


async def test_q_quits(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_search_narrows_as_you_type_and_escape_returns(demo_db) -> None:
    target = listing.list_entries(listing.EntryQuery(limit=1)).items[0]
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *target.client.last_name.lower())
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        expected = listing.list_entries(listing.EntryQuery(search=target.client.last_name.lower()))
        assert [str(k.value) for k in table.rows] == [str(v.id) for v in expected.items]
        assert str(target.id) in [str(k.value) for k in table.rows]
        await pilot.press("escape")
        assert app.focused is table


async def test_a_one_letter_search_shows_a_capped_count(demo_db, monkeypatch) -> None:
    """ "a" matches most clients: the count stops past the page ("of 50+"), and paging on
    counts further, to the exact total once it is within reach."""
    monkeypatch.setattr(queue_data, "COUNT_CAP", 10)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "a")
        await settle(pilot)
        summary = app.screen.query_one("#summary", Static)
        assert str(summary.render()).startswith(f"1–{PAGE_SIZE} of {PAGE_SIZE}+ ")
        await pilot.press("escape", "right_square_bracket")
        await settle(pilot)
        exact = listing.list_entries(listing.EntryQuery(search="a")).total
        assert PAGE_SIZE < exact < 2 * PAGE_SIZE  # the second page holds the last matches
        assert str(summary.render()).startswith(f"{PAGE_SIZE + 1}–{exact} of {exact} waiting")


async def test_status_filter_and_sort(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f", "enter", "down", "down", "down", "enter")  # Booked
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        booked = listing.list_entries(listing.EntryQuery(statuses=("booked",), limit=PAGE_SIZE))
        assert [str(k.value) for k in table.rows] == [str(v.id) for v in booked.items]
        summary = str(app.screen.query_one("#summary", Static).render())
        assert f"of {booked.total:,} booked" in summary
        await pilot.press("escape", "s")
        await settle(pilot)
        by_wait = listing.list_entries(
            listing.EntryQuery(statuses=("booked",), sort="wait", limit=PAGE_SIZE)
        )
        assert [str(k.value) for k in table.rows] == [str(v.id) for v in by_wait.items]


async def test_detail_panel_follows_the_cursor(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await pilot.pause()
        second = listing.list_entries(listing.EntryQuery(limit=2)).items[1]
        detail = str(app.screen.query_one("#detail", Static).render())
        assert second.client.name in detail and second.service.name in detail


def test_queue_filtered_snapshot(demo_db, snap_compare) -> None:
    async def booked_by_wait(pilot) -> None:
        await settle(pilot)
        await pilot.press("f", "enter", "down", "down", "down", "enter", "escape", "s")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=booked_by_wait)


def test_queue_search_no_results_snapshot(demo_db, snap_compare) -> None:
    async def nobody(pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"zzzz")
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=nobody)


async def test_garbage_collection_resumes_once_the_queue_is_up(demo_db) -> None:
    """The console script holds the collector off while the app starts (launch.py); the
    queue's first page on screen turns it back on."""
    gc.disable()
    try:
        app = make_test_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_a_wide_page_keeps_the_status_and_countdown_on_screen(clinic_only_db) -> None:
    """A long providers list and many days pushed "Reply in" past the right edge ("offered
    1h 1" at 120 columns, "offered 1h" at 80): the name and preference columns give way."""
    from tests.tui.test_triage import four_offers, waiting

    four_offers()
    waiting(
        "Maximiliana-Josephine",
        "Vandersteen-Oyelaran",
        "617-555-0190",
        "PT-FU",
        preferred_providers=["KIM", "OKAFOR", "PATEL"],
        preferred_days=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        preferred_time_start="09:00",
        preferred_time_end="16:30",
    )
    for size in (SIZE, (80, 24)):
        app = make_test_app()
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#queue-table", DataTable)
            columns = table.ordered_columns
            used = sum(c.width + 2 * table.cell_padding for c in columns)
            assert used <= table.size.width - table.styles.scrollbar_size_vertical, size
            status = columns[-1]
            cells = [
                str(table.get_cell_at((row, len(columns) - 1))) for row in range(table.row_count)
            ]
            assert any("m" in cell for cell in cells)  # a countdown is on the page
            assert status.width >= max(len(cell) for cell in cells)


async def test_an_offered_entrys_detail_shows_its_slot_and_deadline(clinic_only_db) -> None:
    """The detail pane of an offered entry showed neither the slot nor when to reply by."""
    from tests.tui.test_triage import four_offers

    sent = four_offers()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        row = next(i for i, v in enumerate(screen.rows) if v.status == "offered")
        offer = next(o for o in sent.values() if o.entry_id == screen.rows[row].id)
        screen.query_one("#queue-table", DataTable).move_cursor(row=row)
        await settle(pilot)
        shown = str(screen.query_one("#detail", Static).render())
        local = offer.slot_start.astimezone(ZoneInfo("America/New_York"))
        expires = offer.expires_at.astimezone(ZoneInfo("America/New_York"))
        assert f"offered {local:%a %d %b %H:%M} with {offer.provider_code}" in shown, shown
        assert f"reply by {expires:%a %d %b %H:%M}" in shown and "left)" in shown
