"""Live desks: another desk's change reaches the open queue through the app's change feed
(no key pressed), with the cursor kept on its entry; the desk's own change is read once.

"Another desk" is a write on a connection of its own (a thread here), not in the app's
write workers. Both backends (the `clinic` fixture): PostgreSQL's LISTEN/NOTIFY and SQLite's
data_version. No test asserts a time: `until` only bounds how long a broken feed may hang
the test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable

from tests.domain.fill_helpers import add_entry, monday_opening
from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain import session
from waitlist_tui.domain.fill.slot_offers import offer_slot
from waitlist_tui.tui import calls, queue_data
from waitlist_tui.tui.app import WaitlistApp

PATIENCE = 400  # pauses of 50 ms: how long a broken feed may hang a test


def other_desk(fn: Callable[[], Any]) -> Any:
    """`fn` as another desk would run it: its own connection, committed on return."""
    out: list[Any] = []

    def run() -> None:
        with session.connection():
            out.append(fn())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out[0]


async def until(pilot: Any, done: Callable[[], bool]) -> None:
    for _ in range(PATIENCE):
        if done():
            break
        await pilot.pause(0.05)
    await settle(pilot)


def keys(app: WaitlistApp) -> list[str]:
    return [str(key.value) for key in app.screen.query_one(DataTable).rows]


def cursor_key(app: WaitlistApp) -> str:
    table = app.screen.query_one(DataTable)
    return keys(app)[table.cursor_row]


async def started(pilot: Any) -> WaitlistApp:
    """The queue painted and the app's change feed listening."""
    await settle(pilot)
    app = pilot.app
    assert app.watcher is not None and app.watcher.ready.wait(10)
    return app


async def test_an_entry_another_desk_adds_shows_with_the_cursor_kept(clinic) -> None:
    first = [add_entry(name) for name in ("Ann", "Bea", "Cid")]
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("down")
        on = cursor_key(app)
        assert on in {str(e.id) for e in first}
        added = other_desk(lambda: add_entry("Dee"))
        await until(pilot, lambda: str(added.id) in keys(app))
        assert str(added.id) in keys(app) and len(keys(app)) == 4
        assert cursor_key(app) == on  # the cursor stays on its entry


async def test_an_offer_another_desk_sends_shows_in_its_row(clinic) -> None:
    entries = [add_entry(name) for name in ("Ann", "Bea", "Cid")]
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("down", "down")
        on = cursor_key(app)
        table = app.screen.query_one(DataTable)
        target = str(entries[0].id)
        row = keys(app).index(target)

        def status() -> str:
            return str(table.get_row_at(keys(app).index(target))[7])

        assert status() == "waiting"
        other_desk(lambda: offer_slot(monday_opening().id, "other desk", entry_id=entries[0].id))
        await until(pilot, lambda: status() == "offered")
        assert status() == "offered" and keys(app).index(target) == row
        assert cursor_key(app) == on


async def test_the_desks_own_change_is_read_once(clinic, monkeypatch) -> None:
    """The desk cancels an entry: the queue reads its page again for that (the write's
    result), and the change feed does not bring the same change a second time. Then
    another desk's entry, reported after it, is one read more."""
    entries = [add_entry(name) for name in ("Ann", "Bea", "Cid")]
    reads: list[Any] = []
    real_read = calls.read_now

    def read_now(app: Any, fn: Any, *args: Any) -> Any:
        if fn is queue_data.fetch:
            reads.append(args)
        return real_read(app, fn, *args)

    monkeypatch.setattr(calls, "read_now", read_now)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        before = len(reads)
        view = next(e for e in entries if str(e.id) == cursor_key(app))
        app.screen.cancel_entry(view, "moved away")
        await until(pilot, lambda: str(view.id) not in keys(app))
        watcher = app.watcher
        assert watcher is not None
        looked = watcher.rounds
        await until(pilot, lambda: watcher.rounds >= looked + 2)  # a look begun since
        assert len(reads) == before + 1
        added = other_desk(lambda: add_entry("Dee"))
        await until(pilot, lambda: str(added.id) in keys(app))
        # The feed reads the audit trail in order: had it reported the cancel, it would have
        # done so by the time it reported the entry added after it.
        assert len(reads) == before + 2


async def test_an_entry_open_in_the_editor_changed_elsewhere_keeps_what_is_typed(
    clinic,
) -> None:
    from textual.widgets import Input, Static

    from waitlist_tui.domain.waitlist import changes
    from waitlist_tui.tui.screens.editor import EditorScreen

    entry = add_entry("Ann")
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        notes = editor.query_one("#notes", Input)
        notes.value = "typed here"
        banner = editor.query_one("#banner", Static)
        assert not banner.display
        other_desk(lambda: changes.update(entry.id, {"notes": "theirs"}, "other desk"))
        await until(pilot, lambda: bool(banner.display))
        assert banner.display and "Another desk" in str(banner.render())
        assert notes.value == "typed here"
