"""The manager's audit trail on the desk (issue 20): `A` on the queue or the palette opens
it; filters (who, what kind, from, to, entry) apply on enter. A desk-role login does not see
the key, and the domain refuses a non-manager (access/roles.py) with a clear message in
place of the rows. A snapshot at SIZE."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from tests.conftest import entry_payload
from tests.domain.fill_helpers import monday_opening
from tests.tui.conftest import SIZE, STAFF, make_test_app, settle
from waitlist_tui.config import Settings
from waitlist_tui.domain.access import accounts, roles
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.privacy import trail
from waitlist_tui.domain.waitlist import adding, changes
from waitlist_tui.tui.app import make_app
from waitlist_tui.tui.screens.audit import AuditScreen
from waitlist_tui.tui.screens.queue import QueueScreen
from waitlist_tui.tui.userconfig import UserConfig

PASSWORD = "correct horse battery"


def some_changes() -> None:
    entry = adding.create(entry_payload(preferred_providers=[], preferred_days=[]), "maria")
    changes.update(entry.id, {"notes": "Prefers mornings; calls after 5"}, "maria")
    offer = offers.offer(monday_opening().id, "tomas", entry_id=entry.id)[0]
    offers.decline(offer.id, "tomas", note="busy that day")


def app_as(staff: str, role: str | None):
    app = make_app(Settings(db_url="", staff=staff, role=role), config=UserConfig())
    app.animation_level = "none"
    return app


async def open_audit(pilot) -> None:
    await settle(pilot)
    await pilot.press("A")
    await settle(pilot)


def test_the_domain_refuses_non_managers_once_accounts_exist(clinic_only_db) -> None:
    some_changes()
    assert roles.is_manager("anyone")  # no account yet: the local desk is trusted
    assert trail.manager_trail("anyone", limit=5)
    accounts.add_staff("meg", "manager", PASSWORD, actor="admin")
    accounts.add_staff("dan", "desk", PASSWORD, actor="admin")
    assert len(trail.manager_trail("meg", staff="tomas", limit=50)) >= 2
    for who in ("dan", "nobody", STAFF):
        with pytest.raises(roles.ManagersOnly) as refused:
            trail.manager_trail(who)
        assert refused.value.code == 4030 and "for managers" in refused.value.message
    accounts.disable_staff("meg", actor="admin")
    with pytest.raises(roles.ManagersOnly):
        trail.manager_trail("meg")


def test_audit_snapshot(clinic_only_db, snap_compare) -> None:
    some_changes()
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_audit)


async def test_filters_apply_on_enter_and_escape_goes_back(clinic_only_db) -> None:
    some_changes()
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_audit(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        everyone = {r.actor for r in screen.rows}
        assert {"maria", "tomas"} <= everyone
        await pilot.press("slash")
        assert screen.focused is screen.query_one("#audit-who", Input)
        await pilot.press(*"tomas", "enter")
        await settle(pilot)
        assert screen.rows and {r.actor for r in screen.rows} == {"tomas"}
        kind = screen.query_one("#audit-kind", Input)
        kind.value = "entry"
        await kind.action_submit()
        await settle(pilot)
        assert {r.action.split(".")[0] for r in screen.rows} == {"entry"} or not screen.rows
        assert screen.query_one(DataTable).row_count == len(screen.rows)
        await pilot.press("escape")  # leaves the filter
        await pilot.press("escape")  # leaves the screen
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)


async def test_a_desk_login_has_no_key_and_is_refused(clinic_only_db) -> None:
    some_changes()
    accounts.add_staff("dan", "desk", PASSWORD, actor="admin")
    app = app_as("dan", "desk")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)  # the key does nothing here
        from waitlist_tui.tui.commands import screen_actions

        assert "audit_trail" not in {b.action for b, _ in screen_actions(app.screen)}
        app.push_screen(AuditScreen())  # as the palette's "Go to Audit trail" does
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen) and not screen.rows
        summary = str(screen.query_one("#audit-summary").render())
        assert "for managers" in summary and screen.query_one("#audit-summary").has_class("refused")


async def test_a_manager_login_opens_it_with_the_key(clinic_only_db) -> None:
    some_changes()
    accounts.add_staff("meg", "manager", PASSWORD, actor="admin")
    app = app_as("meg", "manager")
    async with app.run_test(size=SIZE) as pilot:
        await open_audit(pilot)
        assert isinstance(app.screen, AuditScreen) and app.screen.rows


async def test_the_help_of_a_desk_login_leaves_the_key_out(clinic_only_db) -> None:
    from waitlist_tui.tui.screens.help import key_table

    accounts.add_staff("dan", "desk", PASSWORD, actor="admin")
    app = app_as("dan", "desk")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        from rich.console import Console

        console = Console(width=200, record=True)
        console.print(key_table(app.screen))
        text = console.export_text()
        assert "queue.history" in text and "queue.audit" not in text
