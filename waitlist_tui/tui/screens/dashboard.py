"""The stats dashboard: how well the waitlist fills the calendar, for a manager to read.

Figure cards, a weekly chart of the last 12 weeks and a table per service and per provider,
for a period (this week, 30 days, 90 days, year) and one provider or all. The figures come
from domain.stats (rollups kept by the database, so fast at a million entries), read in an
exclusive thread worker; the screen paints placeholders at once, and a result computed for an
older selection is dropped. Narrow or short terminals (under 100x30) get a compact layout:
the chart and the two tables share the lower half, `v` switches between them.

The app keeps one dashboard for the session (`open_dashboard`): building it is most of the
cost of opening it, so later opens only read the figures again. Until they arrive the previous
figures stay on screen dimmed, and the status line says they are being read again; it says
"as of" only over figures read for this opening.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.events import Resize
from textual.widgets import DataTable, Header, Select, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.access import roles
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.catalog.clinics import providers as clinic_providers
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.stats.chains import knock_on_chains
from waitlist_tui.domain.stats.report import PERIODS, period_bounds, stats, weekly_caption
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.screens.dashboard_figures import (
    CARD_TIPS,
    CARDS,
    NAME_WIDTH,
    NOT_PER_PROVIDER_COLUMNS,
    PER_PROVIDER_NOTE,
    TABLE_COLUMNS,
    Loaded,
    Selection,
    card_values,
    knock_on_text,
    period_label,
)
from waitlist_tui.tui.widgets.fast_table import FastTable
from waitlist_tui.tui.widgets.figure_cards import FigureCards
from waitlist_tui.tui.widgets.footer import Footer
from waitlist_tui.tui.widgets.weekly_chart import Series, WeeklyChart

PLACEHOLDER = "…"
COMPACT_BELOW = (100, 30)  # columns, rows: smaller terminals get the compact layout
PANES = ("chart", "services", "providers")
PANE_TITLES = {"chart": "Weekly", "services": "By service", "providers": "By provider"}
READY_TEXT = "as of"  # in the status line once every figure is painted (benchmarks)
READING_TEXT = "Reading the figures…"
SCREEN_NAME = "dashboard"  # the app's one dashboard, installed on first open


class WhatIfAllowed(calls.Done[None]):
    """The desk's login may open the what-if screen."""


def may_open_whatif(staff: str) -> None:
    """Nothing, or ManagersOnly (4030): only a manager tries settings on a simulated month."""
    roles.require_manager(staff, "the what-if simulation")


class FiguresRead(calls.Done[Loaded]):
    pass


class DashboardScreen(DeskScreen[None]):
    """Figures, weekly chart and per-service / per-provider tables for a period."""

    HELP_TITLE = "stats dashboard"

    BINDINGS = [
        Binding(
            "1",
            "period('week')",
            "This week",
            id="dashboard.period_week",
            tooltip="Figures for this week, from Monday",
            group=Binding.Group("Period", compact=True),
        ),
        Binding(
            "2",
            "period('30d')",
            "30 days",
            id="dashboard.period_30d",
            tooltip="Figures for the last 30 days",
            group=Binding.Group("Period", compact=True),
        ),
        Binding(
            "3",
            "period('90d')",
            "90 days",
            id="dashboard.period_90d",
            tooltip="Figures for the last 90 days",
            group=Binding.Group("Period", compact=True),
        ),
        Binding(
            "4",
            "period('year')",
            "Year",
            id="dashboard.period_year",
            tooltip="Figures for the last 365 days",
            group=Binding.Group("Period", compact=True),
        ),
        Binding(
            "p",
            "provider",
            "Provider",
            id="dashboard.provider",
            tooltip="Choose one provider's figures, or all providers",
        ),
        Binding(
            "v",
            "next_pane",
            "View",
            id="dashboard.view",
            tooltip="Switch between the weekly chart and the tables (small terminals)",
        ),
        Binding(
            "w",
            "whatif",
            "What-if",
            id="dashboard.whatif",
            tooltip="Simulate a month under two settings and compare them",
        ),
        Binding(
            "r",
            "refresh",
            "Refresh",
            id="dashboard.refresh",
            tooltip="Read the figures again",
        ),
        Binding(
            "d",
            "demand",
            "Demand",
            id="dashboard.demand",
            tooltip="Where demand goes unmet, and the extra hours that would serve the most",
            show=False,  # in help and the key list; the footer is full on small terminals
        ),
        Binding(
            "f",
            "fairness",
            "Fairness",
            id="dashboard.fairness",
            tooltip="Fairness and lead time: offers made past a fitting candidate, waits "
            "before a first offer, what each lead-time band costs in messages",
            show=False,
        ),
        Binding(
            "escape,q",
            "back",
            "Queue",
            id="dashboard.back",
            tooltip="Back to the queue",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selection = Selection()
        self.shown: Loaded | None = None
        self.pane = "chart"
        self.choices_loaded = False
        self.left = True  # off the screen stack: the next resume reads the figures again

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dash-controls"):
            yield Static(self.period_bar(), id="dash-period")
            yield Select[str]([], prompt="All providers", id="dash-provider")
        yield FigureCards(
            [(card_id, label) for card_id, label, _ in CARDS],
            PLACEHOLDER,
            CARD_TIPS,
            id="dash-cards",
        )
        yield Static(self.pane_bar(), id="dash-panes")
        with Grid(id="dash-lower"):
            with Vertical(id="pane-chart", classes="pane"):
                yield Static(weekly_caption(None), id="chart-title")
                yield WeeklyChart(id="dash-chart")
            with Vertical(id="pane-services", classes="pane"):
                yield self.make_table("services", "Service")
            with Vertical(id="pane-providers", classes="pane"):
                yield self.make_table("providers", "Provider")
        yield Static(READING_TEXT, id="dash-status")
        yield Footer(compact=True)

    @staticmethod
    def make_table(name: str, first: str) -> DataTable[object]:
        table: DataTable[object] = FastTable(
            id=f"table-{name}", cursor_type="row", zebra_stripes=True
        )
        table.add_column(first, width=NAME_WIDTH, key="name")
        for header, width, _ in TABLE_COLUMNS[name]:
            table.add_column(Text(header, justify="right"), width=width, key=header)
        return table

    def on_mount(self) -> None:
        self.sub_title = "Stats"
        self.set_pane(self.pane)
        self.query_one("#table-services", DataTable).focus()

    def on_screen_resume(self) -> None:
        """Opened (again) from the queue: read the figures for this opening. Coming back from
        a screen pushed over this one (help) keeps what is shown."""
        if not self.left:
            return
        self.left = False
        if self.shown is None:
            self.reselect()
        else:
            self.reselect(stale=True)

    def on_resize(self, event: Resize) -> None:
        columns, rows = COMPACT_BELOW
        compact = event.size.width < columns or event.size.height < rows
        if compact != self.compact:  # restyling the screen is costly: only on a change
            self.set_class(compact, "-compact")
            self.refresh_bindings()

    @property
    def compact(self) -> bool:
        return self.has_class("-compact")

    # --- text ---------------------------------------------------------------------------------

    def period_bar(self) -> Text:
        text = Text()
        for index, (name, label) in enumerate(PERIODS.items(), start=1):
            chosen = name == self.selection.period
            text.append(f" {index} ", style="bold reverse" if chosen else "bold")
            text.append(f"{label} ", style="bold" if chosen else "dim")
        return text

    def pane_bar(self) -> Text:
        text = Text("v ", style="bold")
        for name in PANES:
            chosen = name == self.pane
            text.append(f" {PANE_TITLES[name]} ", style="reverse" if chosen else "dim")
        return text

    # --- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the wide layout every pane is on screen: nothing to switch, so `v` is hidden.
        return action != "next_pane" or self.compact

    def action_period(self, period: str) -> None:
        if period != self.selection.period:
            self.reselect(period=period)

    def action_provider(self) -> None:
        select = self.query_one("#dash-provider", Select)
        select.focus()
        select.expanded = True

    def action_next_pane(self) -> None:
        self.set_pane(PANES[(PANES.index(self.pane) + 1) % len(PANES)])

    def action_fairness(self) -> None:
        """The fairness panel for the period on screen."""
        from waitlist_tui.tui.screens.fairness_panel import FairnessPanel

        self.app.push_screen(FairnessPanel(self.selection.period))

    def action_whatif(self) -> None:
        """The what-if screen is a manager's (access/roles.py decides, off the event loop): a
        desk login is told so (the refusal's toast) and stays on the dashboard."""
        self.calls.read(may_open_whatif, self.desk.staff, done=WhatIfAllowed, group="whatif")

    @on(WhatIfAllowed)
    def whatif_allowed(self, message: WhatIfAllowed) -> None:
        from waitlist_tui.tui.screens.whatif import WhatIfScreen

        self.app.push_screen(WhatIfScreen())

    def action_refresh(self) -> None:
        self.reselect()

    def action_demand(self) -> None:
        from waitlist_tui.tui.screens.demand import DemandScreen

        self.app.push_screen(DemandScreen())

    def action_back(self) -> None:
        self.left = True
        self.app.pop_screen()

    def set_pane(self, pane: str) -> None:
        if self.is_mounted and pane == self.pane and self.has_class(f"-pane-{pane}"):
            return
        self.pane = pane
        self.remove_class(*(f"-pane-{name}" for name in PANES if name != pane))
        self.add_class(f"-pane-{pane}")
        self.query_one("#dash-panes", Static).update(self.pane_bar())

    @on(Select.Changed, "#dash-provider")
    def provider_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        if value != self.selection.provider:
            self.reselect(provider=value)

    def reselect(self, stale: bool = False, **changes: Any) -> None:
        """A new period or provider: placeholders now, the figures when the worker is done.
        `stale`: the same selection read again, its figures kept on screen, dimmed."""
        current = self.selection
        self.selection = Selection(
            period=changes.get("period", current.period),
            provider=changes.get("provider", current.provider),
        )
        self.query_one("#dash-period", Static).update(self.period_bar())
        if stale and self.shown is not None:
            self.show_stale(self.shown)
        else:
            self.show_placeholders()
        self.load()

    def show_placeholders(self) -> None:
        self.query_one(FigureCards).show(None)
        self.query_one("#dash-status", Static).update(READING_TEXT)

    def show_stale(self, shown: Loaded) -> None:
        """The figures on screen, dimmed, while they are read again (the status line never says
        "as of" over them)."""
        assert shown.figures is not None
        self.query_one(FigureCards).show(self.card_values(shown.figures), stale=True)
        self.fill_tables(shown.figures, stale=True)
        self.query_one("#dash-status", Static).update(
            Text(f"Reading the figures again… those shown were read {shown.as_of}")
        )

    # --- loading ------------------------------------------------------------------------------

    def others_changed(self, changes: calls.Changes) -> None:
        """Another desk's change (the app's change feed, calls.Changes): the figures read
        again, those on screen left as they are until the new ones come (no placeholders,
        no dimming: a busy clinic changes something every few seconds)."""
        if self.shown is not None and changes.touches(*LIVE_KINDS):
            self.load()

    def load(self) -> None:
        """Off the event loop; the figures of an older selection, still being read when a
        newer one is asked for, are dropped (calls.py)."""
        self.calls.read(
            self.read_figures,
            self.selection,
            not self.choices_loaded,
            done=FiguresRead,
            group="dashboard",
            via="reader",
        )

    @on(FiguresRead)
    def figures_read(self, message: FiguresRead) -> None:
        self.show(message.value)

    @staticmethod
    def read_figures(selection: Selection, with_choices: bool) -> Loaded:
        """The figures for `selection` (and the provider list the first time), as plain values."""
        try:
            clinic = get_clinic()
            since, until = period_bounds(selection.period, clock.today(clinic.time_zone))
            figures = stats(clinic, since, until, selection.provider).to_dict()
            chains = knock_on_chains(clinic, since) if not selection.provider else None
            choices: tuple[tuple[str, str], ...] = ()
            if with_choices:
                choices = tuple((p.name, p.code) for p in clinic_providers(clinic))
            now = clock.now().in_tz(clinic.time_zone)
            return Loaded(
                selection,
                figures,
                clinic_name=clinic.name,
                provider_choices=choices,
                as_of=f"{now:%a %d %b %H:%M}",
                knock_on=chains.to_dict() if chains is not None else None,
            )
        except DomainError as err:
            return Loaded(selection, error=err.message)

    def show(self, loaded: Loaded) -> None:
        status = self.query_one("#dash-status", Static)
        if loaded.figures is None:
            status.update(Text(loaded.error or "No figures", style="bold red"))
            return
        self.shown = loaded
        self.sub_title = f"Stats · {loaded.clinic_name}"
        if loaded.provider_choices and not self.choices_loaded:
            self.choices_loaded = True
            self.query_one("#dash-provider", Select).set_options(loaded.provider_choices)
        figures = loaded.figures
        self.query_one(FigureCards).show(self.card_values(figures))
        self.fill_tables(figures)
        self.draw_chart(figures["weekly"])
        self.query_one("#chart-title", Static).update(weekly_caption(figures["provider"]))
        who = figures["provider"] or "all providers"
        if figures["provider"]:
            who += f" ({PER_PROVIDER_NOTE})"
        period = period_label(loaded.selection, figures)
        status.update(
            f"{period} · {who}{knock_on_text(loaded.knock_on)} · {READY_TEXT} {loaded.as_of}"
        )

    @staticmethod
    def card_values(figures: dict[str, Any]) -> dict[str, str]:
        return card_values(figures)

    def fill_tables(self, figures: dict[str, Any], stale: bool = False) -> None:
        blank = NOT_PER_PROVIDER_COLUMNS if figures.get("provider") else ()
        services = [(r["service"], r) for r in figures["by_service"]]
        self.fill_table("services", services, stale, blank)
        self.fill_table("providers", [(r["provider"], r) for r in figures["by_provider"]], stale)

    def fill_table(
        self,
        name: str,
        rows: list[tuple[str, dict[str, Any]]],
        stale: bool = False,
        blank: tuple[str, ...] = (),
    ) -> None:
        table = self.query_one(f"#table-{name}", DataTable)
        table.clear()
        columns = TABLE_COLUMNS[name]
        style = "dim" if stale else ""
        for code, row in rows:
            cells = [
                Text("–" if header in blank else value(row), style=style, justify="right")
                for header, _, value in columns
            ]
            table.add_row(Text(code, style=style), *cells, key=code)
        if not rows:
            table.add_row(Text("none", style="dim"), *("" for _ in columns))

    def draw_chart(self, weekly: list[dict[str, Any]]) -> None:
        """Entries added and booked, and openings filled, over the last 12 weeks."""
        self.query_one("#dash-chart", WeeklyChart).draw(
            [dt.date.fromisoformat(w["week_start"]) for w in weekly],
            [
                Series("added", [w["entries_added"] for w in weekly], "blue+"),
                Series("booked", [w["entries_booked"] for w in weekly], "green+"),
                Series("filled", [w["openings_filled"] for w in weekly], "orange+"),
            ],
        )


# The figures count entries, offers and appointments (and the providers' openings).
LIVE_KINDS = ("entry", "offer", "opening", "appointment")


def open_dashboard(app: App[Any]) -> None:
    """Push the app's one dashboard, built on first use (see the module's docstring)."""
    if not app.is_screen_installed(SCREEN_NAME):
        app.install_screen(DashboardScreen(), SCREEN_NAME)
    app.push_screen(SCREEN_NAME)
