"""The stats dashboard: snapshots of its states, and keys checked against domain.stats."""

from __future__ import annotations

import datetime as dt
import threading

from textual.widgets import DataTable, Select, Static

from tests.tui.conftest import SIZE, make_test_app, settle
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.stats.report import period_bounds, stats
from waitlist_tui.tui.screens import dashboard
from waitlist_tui.tui.screens.dashboard import (
    CARDS,
    PLACEHOLDER,
    DashboardScreen,
    FiguresRead,
    Loaded,
    Selection,
    card_values,
)
from waitlist_tui.tui.screens.queue import QueueScreen
from waitlist_tui.tui.widgets.figure_cards import FigureCards
from waitlist_tui.tui.widgets.weekly_chart import label_step, y_ticks

COMPACT = (80, 24)


async def open_dashboard(pilot) -> None:
    """From the queue, as the desk does it: shift+s."""
    await settle(pilot)
    await pilot.press("S")
    await settle(pilot)


def expected(period: str = "30d", provider: str | None = None) -> dict:
    clinic = get_clinic()
    since, until = period_bounds(period, clock.today(clinic.time_zone))
    return stats(clinic, since, until, provider).to_dict()


def cards(app) -> dict[str, str]:
    """Each card's value line as painted."""
    painted = app.screen.query_one(FigureCards)
    return {card_id: painted.value_of(card_id) for card_id, _, _ in CARDS}


def expected_cards(figures: dict) -> dict[str, str]:
    return card_values(figures)


def table_rows(app, name: str) -> dict[str, list[str]]:
    table = app.screen.query_one(f"#table-{name}", DataTable)
    return {
        str(key.value): [str(cell) for cell in table.get_row(key)]
        for key in table.rows
        if key.value is not None
    }


def status(app) -> str:
    return str(app.screen.query_one("#dash-status", Static).render())


# --- snapshots --------------------------------------------------------------------------------


def test_dashboard_populated_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_dashboard)


def test_dashboard_populated_compact_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=COMPACT, run_before=open_dashboard)


def test_dashboard_compact_by_provider_snapshot(demo_db, snap_compare) -> None:
    async def providers_pane(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("v", "v")
        await pilot.pause()

    assert snap_compare(make_test_app(), terminal_size=COMPACT, run_before=providers_pane)


def test_dashboard_empty_database_snapshot(clinic_only_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_dashboard)


def test_dashboard_one_provider_year_snapshot(demo_db, snap_compare) -> None:
    async def one_provider(pilot) -> None:
        await open_dashboard(pilot)
        await pilot.press("4")
        await settle(pilot)
        pilot.app.screen.query_one("#dash-provider", Select).value = "OKAFOR"
        await settle(pilot)

    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=one_provider)


# --- keys -------------------------------------------------------------------------------------


async def test_opens_from_the_queue_with_the_30_day_figures_and_goes_back(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        assert isinstance(app.screen, DashboardScreen)
        figures = expected("30d")
        assert cards(app) == expected_cards(figures)
        assert cards(app)["waiting"] == str(figures["counts"]["waiting"])
        services = table_rows(app, "services")
        assert list(services) == [row["service"] for row in figures["by_service"]]
        assert services["ACU"][1] == str(figures["by_service"][0]["total"])
        assert status(app).startswith("30 days · 22 Oct–20 Nov · all providers")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("S")
        await settle(pilot)
        await pilot.press("q")  # q goes back too, it does not quit from here
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)


async def test_period_keys_change_the_figures(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        seen = {}
        for key, period, label in [
            ("1", "week", "This week · 16 Nov–20 Nov"),
            ("3", "90d", "90 days · 23 Aug–20 Nov"),
            ("4", "year", "Year · 21 Nov 2025–20 Nov"),
            ("2", "30d", "30 days · 22 Oct–20 Nov"),
        ]:
            await pilot.press(key)
            await settle(pilot)
            figures = expected(period)
            assert cards(app) == expected_cards(figures), period
            assert status(app).startswith(label)
            seen[period] = figures["total"]
        assert seen["week"] < seen["30d"] < seen["90d"] <= seen["year"]


async def test_provider_filter_narrows_every_figure(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        await pilot.press("4")
        await settle(pilot)
        everyone = table_rows(app, "providers")
        assert list(everyone) == ["KIM", "LINDQVIST", "OKAFOR", "PATEL"]
        await pilot.press("p")  # opens the provider list: All providers, KIM, LINDQVIST, ...
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert app.screen.query_one("#dash-provider", Select).value == "KIM"
        kim = expected("year", "KIM")
        assert cards(app) == expected_cards(kim)
        assert cards(app) != expected_cards(expected("year"))
        assert table_rows(app, "providers") == {"KIM": everyone["KIM"]}
        assert cards(app)["booked"] == everyone["KIM"][1]
        assert "· KIM (booked entries only: a waiting one has no provider yet)" in status(app)
        # "Waiting 0, Active 0, Converted 100%" read as facts about KIM: a dash says n/a
        shown = cards(app)
        assert [shown[c] for c in ("waiting", "active", "conversion")] == ["–", "–", "–"]
        # ...and the chart's "added" counts only entries later booked with KIM: its title says so
        title = str(app.screen.query_one("#chart-title", Static).render())
        assert title == "Last 12 weeks, KIM only: entries booked with them, their openings filled"
        app.screen.query_one("#dash-provider", Select).clear()  # back to all providers
        await settle(pilot)
        title = str(app.screen.query_one("#chart-title", Static).render())
        assert title == "Last 12 weeks, by each week's Monday"
        assert cards(app) == expected_cards(expected("year"))
        assert list(table_rows(app, "providers")) == list(everyone)


async def test_placeholders_first_and_a_stale_result_is_dropped(demo_db, monkeypatch) -> None:
    """The 30-day figures are held up in their worker; the desk presses 1 meanwhile. The
    week's figures are shown, and the 30-day ones, arriving late, are not."""
    release = threading.Event()
    asked: list[tuple] = []
    real_stats = dashboard.stats

    def slow_stats(clinic, since, until, provider):
        asked.append((since, until, provider))
        if len(asked) == 1:
            assert release.wait(10), "the test never released the first call"
        return real_stats(clinic, since, until, provider)

    monkeypatch.setattr(dashboard, "stats", slow_stats)
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await pilot.pause()
        assert set(cards(app).values()) == {PLACEHOLDER}  # painted before any figure
        assert status(app) == "Reading the figures…"
        await pilot.press("1")
        for _ in range(100):  # the week's worker finishes while the first one still waits
            await pilot.pause(0.02)
            if status(app).startswith("This week"):
                break
        week = expected("week")
        assert cards(app) == expected_cards(week)
        release.set()
        await settle(pilot)
        assert len(asked) == 2 and asked[0][0] == dt.date(2026, 10, 22)
        assert cards(app) == expected_cards(week)
        assert status(app).startswith("This week")
        assert cards(app) != expected_cards(expected("30d"))


async def test_show_drops_figures_of_an_older_selection(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        before = cards(app)
        older = screen.calls.drop("dashboard")  # a read still running...
        screen.calls.drop("dashboard")  # ...when a newer selection was asked for
        old = Loaded(Selection(period="30d"), {**expected("30d"), "counts": {}})  # fails if read
        screen.calls.deliver("dashboard", older, FiguresRead, old)
        await pilot.pause()
        assert cards(app) == before


async def test_view_key_switches_panes_only_in_the_compact_layout(demo_db) -> None:
    app = make_test_app()
    async with app.run_test(size=COMPACT) as pilot:
        await open_dashboard(pilot)
        screen = app.screen
        visible = lambda: [  # noqa: E731
            p for p in ("chart", "services", "providers") if screen.query_one(f"#pane-{p}").display
        ]
        assert screen.has_class("-compact") and visible() == ["chart"]
        await pilot.press("v")
        assert visible() == ["services"]
        await pilot.press("v", "v")
        assert visible() == ["chart"]
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        assert not app.screen.has_class("-compact")
        assert app.screen.check_action("next_pane", ()) is False
        assert all(app.screen.query_one(f"#pane-{p}").display for p in ("chart", "services"))


async def test_every_binding_has_an_id_and_a_description(demo_db) -> None:
    for binding in DashboardScreen.BINDINGS:
        assert binding.id and binding.description and binding.tooltip, binding
    assert [b.id for b in QueueScreen.BINDINGS if b.key == "S"] == ["queue.dashboard"]


def test_chart_axes_fit_the_width_and_count_whole_numbers() -> None:
    assert y_ticks(0) == [0, 1, 2, 3, 4]
    assert y_ticks(3) == [0, 1, 2, 3, 4]
    assert y_ticks(24) == [0, 6, 12, 18, 24]
    assert y_ticks(25) == [0, 7, 14, 21, 28]
    # 12 weeks: every week's label at 200 columns, fewer as the chart narrows, never touching
    assert label_step(12, 200) == 1
    for width in (30, 45, 60, 78, 100):
        step = label_step(12, width)
        assert step * (width - 8) / 11 >= 8, width


async def test_reopening_keeps_the_screen_and_never_shows_old_figures_as_current(
    demo_db, monkeypatch
) -> None:
    """The second S reuses the dashboard: until the figures are read again the previous ones
    stay, dimmed, and the status line does not say "as of"."""
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        first = app.screen
        before = cards(app)
        assert "as of" in status(app)
        await pilot.press("escape")
        await settle(pilot)

        release = threading.Event()
        real_stats = dashboard.stats

        def held_stats(clinic, since, until, provider):
            assert release.wait(10), "the test never released the call"
            return real_stats(clinic, since, until, provider)

        monkeypatch.setattr(dashboard, "stats", held_stats)
        await pilot.press("S")
        await pilot.pause()
        assert app.screen is first
        assert status(app).startswith("Reading the figures again")
        assert "as of" not in status(app)
        painted = app.screen.query_one(FigureCards)
        assert painted.stale and cards(app) == before
        release.set()
        await settle(pilot)
        assert "as of" in status(app) and not painted.stale
        assert cards(app) == expected_cards(expected("30d"))


# --- unmet demand (issue 22) ------------------------------------------------------------------


async def open_demand(pilot) -> None:
    """From the queue: shift+s to the dashboard, then d."""
    await open_dashboard(pilot)
    await pilot.press("d")
    await settle(pilot)


def test_demand_populated_snapshot(demo_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_demand)


def test_demand_empty_database_snapshot(clinic_only_db, snap_compare) -> None:
    assert snap_compare(make_test_app(), terminal_size=SIZE, run_before=open_demand)


async def test_demand_rows_are_the_domain_figures_and_escape_goes_back(demo_db) -> None:
    from waitlist_tui.domain.stats.demand import demand
    from waitlist_tui.tui.screens.demand import DemandScreen

    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_demand(pilot)
        assert isinstance(app.screen, DemandScreen)
        found = demand(get_clinic())
        table = app.screen.query_one("#demand-table", DataTable)
        first = [str(c) for c in table.get_row_at(0)]
        top = found.cells[0]
        assert first[:4] == [top.service, top.provider, top.weekday, top.part]
        assert first[5] == f"{top.no_free_slot:,}"
        summary = str(app.screen.query_one("#demand-summary", Static).render())
        assert f"{found.no_free_slot_total:,} with no free slot" in summary
        assert f"{found.waiting_total:,} waiting" in summary
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_dashboard_counts_appointments_moved_up_by_knock_on(demo_db) -> None:
    from waitlist_tui.demo.stories import knock_on_story

    story = knock_on_story("tester")
    assert story["moved_up"] >= 2
    app = make_test_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        assert f"{story['moved_up']} appointments moved up by knock-on" in status(app)
