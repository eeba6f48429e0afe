"""The stats dashboard: snapshots of its states, and keys checked against domain.stats."""

from __future__ import annotations

from tests.tui.conftest import SIZE, make_test_app, settle

COMPACT = (80, 24)


async def open_dashboard(pilot) -> None:
    """From the queue, as the desk does it: shift+s."""
    await settle(pilot)
    await pilot.press("S")
    await settle(pilot)


def test_dashboard_populated_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_dashboard)


def test_dashboard_populated_compact_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=COMPACT, run_before=open_dashboard)
