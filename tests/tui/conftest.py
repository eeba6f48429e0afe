"""TUI fixtures: a SQLite database built at a frozen time, and the app as the CLI makes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Input

from tests.conftest import FROZEN
from tests.timetravel import frozen_at
from waitlist_tui.demo import build as demo
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.store import db as dbmod
from waitlist_tui.domain.store.connect import connect
from waitlist_tui.tui.app import WaitlistApp

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor raced the screenshot: the same screen saved with and without it."""
    monkeypatch.setattr(Input, "cursor_blink", False)


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
    apply_setup(demo_clinic(), "tester")
    return tui_db


def make_test_app() -> WaitlistApp:
    app = WaitlistApp(staff="tester")
    app.animation_level = "none"
    return app


async def settle(pilot) -> None:
    """Wait for the queue's worker and the repaint that follows it."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
