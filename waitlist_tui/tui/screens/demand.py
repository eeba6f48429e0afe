"""Where demand goes unmet, for a manager to read (`d` on the stats dashboard): the waiting
entries per service x provider x weekday x part of day, those with no free slot in their
dates, their median wait, those that ended without an offer, and the few extra hours that
would fit the most of them. Read in a thread worker (domain/stats/demand.py); the screen
paints its frame at once and the table when the figures come."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.stats.demand import demand
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.widgets.fast_table import FastTable
from waitlist_tui.tui.widgets.footer import Footer

READING_TEXT = "Reading where demand goes unmet…"
ROWS = 200  # the worst cells; `stats demand --csv` has them all
COLUMNS = (
    ("Service", 9, "service"),
    ("Provider", 10, "provider"),
    ("Day", 10, "weekday"),
    ("Part", 10, "part_of_day"),
    ("Waiting", 8, "waiting"),
    ("No slot", 8, "no_free_slot"),
    ("Median wait d", 13, "median_wait_days"),
    ("Ended unoffered", 15, "ended_without_offer"),
)
NUMBERS = {"waiting", "no_free_slot", "median_wait_days", "ended_without_offer"}


@dataclass(frozen=True)
class DemandLoaded:
    """The demand report as plain values (or the refusal), and when it was read."""

    figures: dict[str, Any] | None = None
    error: str | None = None
    as_of: str = ""


class DemandRead(calls.Done[DemandLoaded]):
    pass


def read_demand() -> DemandLoaded:
    try:
        clinic = get_clinic()
        figures = demand(clinic).to_dict()
        now = clock.now().in_tz(clinic.time_zone)
        return DemandLoaded(figures, as_of=f"{now:%a %d %b %H:%M}")
    except DomainError as err:
        return DemandLoaded(error=err.message)


def summary(figures: dict[str, Any]) -> Text:
    if not figures["waiting_total"]:
        return Text("Nobody is waiting: no demand to show")
    unmet = figures["no_free_slot_total"]
    text = Text()
    text.append(f"{figures['waiting_total']:,} waiting", style="bold")
    text.append(" · ")
    text.append(f"{unmet:,} with no free slot", style="bold red" if unmet else "bold")
    text.append(f" in their dates (the next {figures['horizon_days']} days)")
    return text


def suggestions(figures: dict[str, Any]) -> Text:
    text = Text()
    found = figures["suggestions"]
    if not found and figures["waiting_total"]:
        text.append("No suggestion: every waiting entry has a free slot", style="dim")
    for i, s in enumerate(found):
        if i:
            text.append("\n")
        text.append("+ ", style="bold green")
        text.append(s["text"])
    return text


class DemandScreen(DeskScreen[None]):
    """The unmet-demand table and the extra hours that would serve the most waiting."""

    HELP_TITLE = "unmet demand"

    BINDINGS = [
        Binding(
            "r",
            "refresh",
            "Refresh",
            id="demand.refresh",
            tooltip="Read the demand again",
        ),
        Binding(
            "escape,q",
            "back",
            "Stats",
            id="demand.back",
            tooltip="Back to the stats dashboard",
        ),
    ]

    DEFAULT_CSS = """
    DemandScreen #demand-summary { height: 1; padding: 0 1; }
    DemandScreen #demand-suggestions { height: auto; max-height: 3; padding: 0 1; }
    DemandScreen #demand-table { height: 1fr; }
    DemandScreen #demand-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(READING_TEXT, id="demand-summary")
        yield Static("", id="demand-suggestions")
        table: DataTable[object] = FastTable(
            id="demand-table", cursor_type="row", zebra_stripes=True
        )
        for header, width, key in COLUMNS:
            label = Text(header, justify="right") if key in NUMBERS else Text(header)
            table.add_column(label, width=width, key=key)
        yield table
        yield Static("", id="demand-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Unmet demand"
        self.query_one("#demand-table", DataTable).focus()
        self.load()

    def load(self) -> None:
        self.calls.read(read_demand, done=DemandRead, group="demand", via="reader")

    def action_refresh(self) -> None:
        self.query_one("#demand-status", Static).update(READING_TEXT)
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(DemandRead)
    def demand_read(self, message: DemandRead) -> None:
        self.show(message.value)

    def show(self, loaded: DemandLoaded) -> None:
        status = self.query_one("#demand-status", Static)
        if loaded.figures is None:
            status.update(Text(loaded.error or "No figures", style="bold red"))
            return
        figures = loaded.figures
        self.sub_title = f"Unmet demand · {figures['clinic']}"
        self.query_one("#demand-summary", Static).update(summary(figures))
        self.query_one("#demand-suggestions", Static).update(suggestions(figures))
        table = self.query_one("#demand-table", DataTable)
        table.clear()
        for i, cell in enumerate(figures["cells"][:ROWS]):
            row = []
            for _, _, key in COLUMNS:
                value = cell[key]
                shown = f"{value:,}" if isinstance(value, int) else str(value)
                style = "bold red" if key == "no_free_slot" and value else ""
                row.append(Text(shown, style=style, justify="right" if key in NUMBERS else "left"))
            table.add_row(*row, key=str(i))
        count = len(figures["cells"])
        cells = f"{count:,} cells" if count <= ROWS else f"the worst {ROWS} of {count:,} cells"
        status.update(
            f"{cells} (stats demand --csv has them all) · "
            f"ended unoffered: the last {figures['ended_without_offer_days']} days · "
            f"as of {loaded.as_of}"
        )
