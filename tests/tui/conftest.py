"""TUI fixtures: a SQLite database built at a frozen time, and the app as the CLI makes it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import textual._doc
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._toast import ToastRack

from tests.conftest import FROZEN, clinic_without_feeds
from tests.timetravel import frozen_at
from waitlist_tui.config import Settings
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.store import db as dbmod
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.tui.app import WaitlistApp, make_app
from waitlist_tui.tui.userconfig import UserConfig

SIZE = (120, 36)
STAFF = "tester"


@pytest.fixture(autouse=True)
def _steady_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a screenshot must not depend on: a blinking cursor raced it (the same screen
    saved with and without it), and a toast still up from the last action covered the
    screen under it (the finder's candidate list)."""
    monkeypatch.setattr(Input, "cursor_blink", False)
    screenshot = textual._doc.take_svg_screenshot

    def steady(*args: Any, run_before: Callable[[Pilot], Any] | None = None, **kw: Any) -> str:
        async def then_quiet(pilot: Pilot) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            app = pilot.app
            app.clear_notifications()  # redraws the top screen's toasts only
            for screen in app.screen_stack:  # a dialog's backdrop shows the screen under it
                for rack in screen.query(ToastRack):
                    rack.show(app._notifications)
            await pilot.pause()

        return screenshot(*args, run_before=then_quiet, **kw)

    monkeypatch.setattr(textual._doc, "take_svg_screenshot", steady)


@pytest.fixture
def tui_db(tmp_path) -> Iterator[str]:
    with frozen_at(FROZEN):
        url = str(tmp_path / "tui.db")
        connect(url)
        yield url
        dbmod.database.close()


@pytest.fixture
def demo_db(tui_db: str) -> str:
    demo.build(entries=240, seed=5)
    return tui_db


@pytest.fixture
def clinic_only_db(tui_db: str) -> str:
    apply_setup(clinic_without_feeds(), "tester")
    return tui_db


def make_test_app(config: UserConfig | None = None) -> WaitlistApp:
    """The app as the CLI makes it (make_app), with a config of its own: a test never reads
    or writes the desk's config file."""
    app = make_app(Settings(db_url="", staff=STAFF), config=config or UserConfig())
    app.animation_level = "none"
    return app


async def settle(pilot) -> None:
    """Wait for the queue's worker and the repaint that follows it."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
