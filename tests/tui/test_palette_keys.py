"""Across the app: the command palette (screens, a client's entry, the screen's actions), the
desk's config file (keys by binding id, the theme), and the light theme at 80x24."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.command import CommandPalette

from tests.conftest import FROZEN
from tests.timetravel import frozen_at
from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_triage import waiting
from waitlist_tui.cli import main
from waitlist_tui.tui import userconfig
from waitlist_tui.tui.app import WaitlistApp
from waitlist_tui.tui.keycatalog import catalog
from waitlist_tui.tui.screens.editor import EditorScreen
from waitlist_tui.tui.screens.finder import FinderScreen
from waitlist_tui.tui.screens.queue import QueueScreen

SMALL = (80, 24)


def app_with(config: userconfig.UserConfig | None = None) -> WaitlistApp:
    return make_test_app(config)


def three_clients() -> None:
    """Distinct priorities and creation times: the queue behind the palette and the search's
    newest-first hits have a fixed order (equal times would leave it to random ids)."""
    people = [
        ("Ann", "Lee", "617-555-0101", "PT-EVAL"),
        ("Annette", "Moss", "617-555-0102", "PT-FU"),
        ("Dan", "Wu", "617-555-0104", "PT-EVAL"),
    ]
    for minutes, (first, last, phone, service) in enumerate(people):
        with frozen_at(FROZEN.subtract(minutes=10 - minutes)):
            waiting(first, last, phone, service=service, priority=minutes + 1)


async def palette(pilot, text: str, expect: str | None = None) -> None:
    """Open the palette and type; with `expect`, wait (up to 5 s) until a hit shows it: the
    entries search runs in a thread and its hits arrive after the commands'."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*text)
    for _ in range(50):
        await pilot.pause(0.1)
        if expect is None:
            break
        found = pilot.app.screen.query_one("CommandList")
        prompts = [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]
        if any(expect in p for p in prompts):
            break
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.2)  # the list settles its order


# --- the palette ------------------------------------------------------------------------------


def test_palette_finds_a_client_snapshot(clinic_only_db, snap_compare) -> None:
    three_clients()

    async def search(pilot) -> None:
        await settle(pilot)
        await palette(pilot, "ann", expect="Annette Moss")
        pilot.app.screen.query_one("CommandInput").cursor_blink = False  # no blink phase
        await pilot.pause(0.5)
        await pilot.wait_for_animation()

    assert snap_compare(app_with(), terminal_size=SIZE, run_before=search)


async def test_palette_jumps_to_a_clients_entry(clinic_only_db) -> None:
    three_clients()
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await palette(pilot, "annette", expect="Annette Moss")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen)
        assert app.screen.entry.client.name == "Annette Moss"


async def test_palette_goes_to_a_screen_and_back_to_the_queue(clinic_only_db) -> None:
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await palette(pilot, "go to match finder")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FinderScreen)
        await palette(pilot, "go to queue")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)


async def test_palette_keeps_a_half_typed_entry(clinic_only_db) -> None:
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"Zed")
        await palette(pilot, "go to queue")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen)  # not thrown away
        assert app.screen.query_one("#client-search").value == "Zed"


async def test_palette_runs_the_screens_actions_with_their_keys(clinic_only_db) -> None:
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = app.screen
        before = queue.query_spec.sort
        await palette(pilot, "sort")
        await pilot.pause()
        shown = str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
        assert "Sort (s)" in shown
        await pilot.press("enter")
        await settle(pilot)
        assert queue.query_spec.sort != before


# --- keys by binding id and themes ------------------------------------------------------------


async def test_the_config_file_rebinds_a_key_by_its_id(clinic_only_db) -> None:
    app = app_with(userconfig.UserConfig(keys={"queue.finder": "f6"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)  # m no longer opens it
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, FinderScreen)


async def test_an_unknown_id_and_theme_are_reported_not_fatal(clinic_only_db) -> None:
    config = userconfig.UserConfig(theme="neon", keys={"queue.nothing": "z"})
    app = app_with(config)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.5)  # the id check runs after the first paint
        await app.workers.wait_for_complete()
        await pilot.pause()
        said = " ".join(str(n.message) for n in app._notifications)
        assert "'neon' is not one of" in said and "queue.nothing" in said
        assert app.theme == "textual-dark"


async def test_ctrl_t_switches_theme_and_remembers_it(clinic_only_db) -> None:
    app = app_with(userconfig.UserConfig())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.remember_theme = True
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "textual-light"
        assert userconfig.load().theme == "textual-light"


def test_light_theme_queue_at_80x24_snapshot(demo_db, snap_compare) -> None:
    app = app_with(userconfig.UserConfig(theme="textual-light"))
    assert snap_compare(app, terminal_size=SMALL, run_before=settle)


def test_light_theme_finder_at_80x24_snapshot(demo_db, snap_compare) -> None:
    async def finder(pilot) -> None:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)

    app = app_with(userconfig.UserConfig(theme="textual-light"))
    assert snap_compare(app, terminal_size=SMALL, run_before=finder)


# --- the config file and the catalog ----------------------------------------------------------


def test_config_file_reading(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert userconfig.load(path) == userconfig.UserConfig()
    path.write_text('# my desk\ntheme = "textual-light"\n[keys]\n"queue.finder" = " m , f6 "\n')
    assert userconfig.load(path) == userconfig.UserConfig("textual-light", {"queue.finder": "m,f6"})
    path.write_text("theme = 3\n[keys]\n'queue.new' = ''\n")
    problems = userconfig.load(path).problems
    assert any("theme must be" in p for p in problems)
    assert any("keys.queue.new must be" in p for p in problems)
    path.write_text("theme = [")
    broken = userconfig.load(path)
    assert broken.keys == {} and "using the default" in broken.problems[0]


def test_saving_the_theme_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# my desk\n[keys]\n"queue.finder" = "f6"  # easier\n')
    userconfig.save_theme("textual-light", path)
    text = path.read_text()
    assert "# my desk" in text and "# easier" in text
    assert userconfig.load(path) == userconfig.UserConfig("textual-light", {"queue.finder": "f6"})


def test_every_binding_has_a_unique_id_and_a_description() -> None:
    entries = catalog()
    ids = [e.id for e in entries]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(e.description for e in entries)
    assert {"queue.finder", "finder.broadcast", "app.theme"} <= set(ids)


def test_keys_command_lists_ids_and_checks_the_file() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["data"]["bindings"]
    assert {"screen": "match finder", "id": "finder.broadcast"}.items() <= next(
        r for r in rows if r["id"] == "finder.broadcast"
    ).items()
    path = userconfig.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[keys]\n"queue.finder" = "f6"\n"queue.nope" = "z"\n')
    result = runner.invoke(main, ["keys"])
    assert result.exit_code != 0
    assert "queue.nope" in result.output and "f6 *" in result.output


@pytest.mark.parametrize("theme", WaitlistApp.THEMES)
def test_both_themes_exist(theme: str) -> None:
    assert theme in make_test_app().available_themes
