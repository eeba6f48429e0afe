"""What-if: a manager compares two settings files on a simulated month of the clinic and
applies the better one.

The simulation runs in a process of its own (tui/whatif_process.py) from a thread worker;
the progress bar follows it, then both results stand side by side with the bars of the
text chart. "Apply" writes the chosen file's settings to the clinic (catalog.tuning, one
transaction with its audit row)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, ProgressBar, Select, Static

from waitlist_tui.domain.catalog.tuning import apply_file, changes_text
from waitlist_tui.domain.whatif.shown import shown
from waitlist_tui.tui import calls, whatif_process
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.widgets.footer import Footer

DAYS = 30
SEED = 1
ROWS = (
    ("Openings", "openings"),
    ("Filled %", "filled_pct"),
    ("Offers per fill", "offers_per_fill"),
    ("Per-offer acceptance %", "acceptance_pct"),
    ("Messages sent", "messages_sent"),
    ("Median time to fill (min)", "median_fill_minutes"),
    ("Days sooner (median)", "days_sooner_median"),
    ("Entries never offered", "never_offered"),
    ("Fairness skips", "fairness_skips"),
)
BAR = 30


class Simulated(calls.Done[dict[str, Any]]):
    pass


class SimulationFailed(calls.Failed):
    pass


class Applied(calls.Done[dict[str, Any]]):
    pass


def chart_lines(outcomes: list[dict[str, Any]]) -> list[str]:
    """Filled % and offers per fill as bars, one pair per setting."""
    most = max((o["offers_per_fill"] or 0 for o in outcomes), default=0) or 1
    width = max((len(o["name"]) for o in outcomes), default=0)
    lines = []
    for o in outcomes:
        filled = round(BAR * o["filled_pct"] / 100)
        per = o["offers_per_fill"] or 0
        lines.append(
            f"{o['name']:<{width}}  filled {'█' * filled:<{BAR}} "
            f"{shown('filled_pct', o['filled_pct'])}%"
        )
        lines.append(
            f"{'':<{width}}  offers {'▒' * round(BAR * per / most):<{BAR}} "
            f"{shown('offers_per_fill', o['offers_per_fill'])} per fill"
        )
    return lines


class WhatIfScreen(DeskScreen[None]):
    """Two settings files, one simulated month each on the same drawn world."""

    HELP_TITLE = "what-if"
    BINDINGS = [
        Binding("r", "run", "Run", id="whatif.run", tooltip="Simulate a month under both"),
        Binding("a", "apply('a')", "Apply A", id="whatif.apply_a", tooltip="Write A's settings"),
        Binding("b", "apply('b')", "Apply B", id="whatif.apply_b", tooltip="Write B's settings"),
        Binding("escape,q", "back", "Dashboard", id="whatif.back", tooltip="Back"),
    ]

    DEFAULT_CSS = """
    WhatIfScreen #whatif-choose { height: 3; }
    WhatIfScreen #whatif-choose Select { width: 1fr; }
    WhatIfScreen #whatif-progress { height: 1; margin: 0 1; }
    WhatIfScreen #whatif-table { height: auto; max-height: 12; }
    WhatIfScreen #whatif-chart { height: auto; margin: 1 1; }
    WhatIfScreen #whatif-status { height: 1; margin: 0 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.files = whatif_process.settings_files()
        self.result: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        options = [(p.stem.removeprefix("whatif_"), str(p)) for p in self.files]
        with Horizontal(id="whatif-choose"):
            yield Select(options, prompt="Setting A", id="whatif-a", value=_nth(options, 0))
            yield Select(options, prompt="Setting B", id="whatif-b", value=_nth(options, 1))
        yield ProgressBar(total=1.0, show_eta=False, id="whatif-progress")
        yield DataTable(id="whatif-table", cursor_type="none", zebra_stripes=True)
        yield Static("", id="whatif-chart", markup=False)
        yield Static(
            f"r runs {DAYS} simulated days under A and B on one drawn world", id="whatif-status"
        )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#whatif-table", DataTable)
        table.add_columns("", "A", "B")

    def chosen(self) -> list[str]:
        picks = []
        for which in ("a", "b"):
            value = self.query_one(f"#whatif-{which}", Select).value
            if isinstance(value, str):
                picks.append(value)
        return picks

    def action_run(self) -> None:
        files = self.chosen()
        if len(files) != 2:
            self.notify("Choose two settings files first", severity="warning")
            return
        bar = self.query_one("#whatif-progress", ProgressBar)
        bar.update(progress=0)
        self.set_status("Simulating…")
        url = getattr(self.app, "db_url", None) or ""

        def progress(fraction: float) -> None:
            self.app.call_from_thread(bar.update, progress=min(1.0, fraction))

        self.calls.read(
            whatif_process.run_simulation,
            url,
            files,
            DAYS,
            SEED,
            progress,
            done=Simulated,
            failed=SimulationFailed,
            group="whatif",
            via="none",
        )

    @on(Simulated)
    def simulated(self, message: Simulated) -> None:
        self.show(message.value)

    @on(SimulationFailed)
    def simulation_failed(self, message: SimulationFailed) -> None:
        self.set_status(f"The simulation stopped: {message.error.message}")

    def show(self, result: dict[str, Any]) -> None:
        """Both outcomes side by side, and the chart."""
        self.result = result
        outcomes = result["settings"]
        table = self.query_one("#whatif-table", DataTable)
        table.clear(columns=True)
        table.add_columns("", *(f"{'AB'[i]}: {o['name']}" for i, o in enumerate(outcomes)))
        for label, key in ROWS:
            table.add_row(label, *(shown(key, o[key]) for o in outcomes))
        self.query_one("#whatif-chart", Static).update("\n".join(chart_lines(outcomes)))
        self.query_one("#whatif-progress", ProgressBar).update(progress=1.0)
        world = result["world"]
        self.set_status(
            f"{world['cancellations']} cancellations and {world['arrivals']} new entries drawn "
            f"(seed {world['seed']}); a applies A, b applies B"
        )

    def action_apply(self, which: str) -> None:
        files = self.chosen()
        index = "ab".index(which)
        if len(files) <= index:
            return
        self.calls.write(apply_file, files[index], self.desk.staff, done=Applied)

    @on(Applied)
    def applied(self, message: Applied) -> None:
        changed = changes_text(message.value)
        self.notify(changed or "The clinic already has these settings", markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def set_status(self, text: str) -> None:
        self.query_one("#whatif-status", Static).update(text)


def _nth(options: list[tuple[str, str]], i: int) -> Any:
    return options[i][1] if len(options) > i else Select.BLANK
