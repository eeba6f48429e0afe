"""The what-if screen: from the dashboard (w), two settings files run (r) with a progress
bar, both results side by side with the chart; a / b apply one to the clinic with its audit
row. The simulation's process is replaced by the same comparison run in this process before
the app starts (compare() rebinds the models, which a running app must not see)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable

from tests.tui.conftest import SIZE, STAFF, make_test_app, settle
from tests.tui.test_dashboard import open_dashboard
from waitlist_tui.config import Settings
from waitlist_tui.domain import assets
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.catalog.tuning import load_tuning
from waitlist_tui.domain.store.models import AuditEvent
from waitlist_tui.domain.whatif.compare import compare
from waitlist_tui.domain.whatif.shown import shown
from waitlist_tui.tui import whatif_process
from waitlist_tui.tui.app import make_app
from waitlist_tui.tui.screens.whatif import WhatIfScreen
from waitlist_tui.tui.userconfig import UserConfig

FILES = [
    assets.directory() / "whatif_sequential.toml",
    assets.directory() / "whatif_broadcast.toml",
]


_RUN: dict[str, Any] = {}  # the demo and the clock are the same in every test: run it once


@pytest.fixture
def simulated(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if not _RUN:
        _RUN.update(compare(demo_db, [load_tuning(p) for p in FILES], seed=1, days=3).to_dict())
    result = dict(_RUN)
    calls: list[list[str]] = []

    def run(db_url: str, files: list[str], days: int, seed: int, progress: Any) -> Any:
        calls.append(files)
        progress(0.5)
        progress(1.0)
        return result

    monkeypatch.setattr(whatif_process, "run_simulation", run)
    monkeypatch.setattr(whatif_process, "settings_files", lambda: FILES)
    result["calls"] = calls
    return result


async def open_whatif(pilot: Any) -> None:
    await open_dashboard(pilot)
    await pilot.press("w")
    await settle(pilot)


async def run_both(pilot: Any) -> None:
    await open_whatif(pilot)
    await pilot.press("r")
    await settle(pilot)


def test_whatif_before_a_run_snapshot(simulated: dict[str, Any], snap_compare: Any) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_whatif)


def test_whatif_results_side_by_side_snapshot(simulated: dict[str, Any], snap_compare: Any) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=run_both)


async def test_run_shows_both_and_apply_writes_with_an_audit_row(
    simulated: dict[str, Any],
) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_both(pilot)
        assert isinstance(app.screen, WhatIfScreen)
        assert simulated["calls"] == [[str(p) for p in FILES]]
        table = app.screen.query_one("#whatif-table", DataTable)
        filled = table.get_row_at(1)
        names = [o["name"] for o in simulated["settings"]]
        assert names == ["sequential 2h", "broadcast 5, 1h"]
        assert filled[1:] == [shown("filled_pct", o["filled_pct"]) for o in simulated["settings"]]
        await pilot.press("b")
        await settle(pilot)
    clinic = get_clinic()
    assert clinic.default_workflow == "BROADCAST"
    assert clinic.broadcast_top_n == 5
    assert clinic.offer_hold_minutes == 60
    assert AuditEvent.select().where(AuditEvent.action == "clinic.tune").count() == 1


async def test_a_desk_login_is_refused_the_screen(
    simulated: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening it is a manager's (access/roles.py): a desk login is told so and stays on
    the dashboard; a manager's login opens it."""
    from textual.app import App

    from waitlist_tui.domain.access import accounts
    from waitlist_tui.tui.screens.dashboard import DashboardScreen

    accounts.add_staff("dan", "desk", "correct horse battery", actor="admin")
    accounts.add_staff(STAFF, "manager", "correct horse battery", actor="admin")
    told: list[str] = []
    real_notify = App.notify

    def notify(self: Any, message: str, *args: Any, **kwargs: Any) -> None:
        told.append(str(message))
        real_notify(self, message, *args, **kwargs)

    monkeypatch.setattr(App, "notify", notify)
    app = make_app(Settings(db_url="", staff="dan", role="desk"), config=UserConfig())
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await open_whatif(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert any("what-if simulation is for managers" in m for m in told)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_whatif(pilot)
        assert isinstance(app.screen, WhatIfScreen)


def test_progress_of_settings_run_side_by_side_never_goes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI's settings run in parallel, so their progress lines interleave: the bar shows
    the mean of each setting's own fraction, never moving backwards."""
    import io
    import json

    lines = [(0, 0.5), (1, 0.25), (0, 1.0), (1, 0.75), (1, 1.0)]

    class Child:
        stderr = io.StringIO(
            "".join(json.dumps({"setting": i, "of": 2, "done": d}) + "\n" for i, d in lines)
        )
        stdout = io.StringIO(json.dumps({"code": 2000, "data": {"settings": []}}) + "\n")

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(whatif_process.subprocess, "Popen", lambda *a, **k: Child())
    seen: list[float] = []
    data = whatif_process.run_simulation("", ["a.toml", "b.toml"], 3, 1, seen.append)
    assert data == {"settings": []}
    assert seen == sorted(seen) and seen[-1] == 1.0
