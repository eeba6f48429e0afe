"""The manager's fairness panel, opened from the dashboard with `f`: for the dashboard's
period, what each band of lead time costs in messages, the offers that went past a waiting
candidate who fitted (and why), the median wait before a first offer by priority, by service
or by provider (`b` switches: one narrow table, beside the list), and the long waiters never
offered. The figures are domain.stats.fairness's, read in a worker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Static

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.stats.fairness import fairness_report, lead_time_report
from waitlist_tui.domain.stats.report import period_bounds
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui import calls
from waitlist_tui.tui.desk import DeskScreen
from waitlist_tui.tui.widgets.fast_table import FastTable, fill
from waitlist_tui.tui.widgets.footer import Footer

BAND_COLUMNS = (
    "Lead time",
    "Rule",
    "Openings",
    "Filled",
    "Fill %",
    "Offers",
    "Per fill",
    "Fill min",
)
# The median wait before a first offer, split three ways: (report key, first column).
SPLITS = (("by_priority", "Priority"), ("by_service", "Service"), ("by_provider", "Provider"))
WAIT_TAIL = ("Entries", "Median d")
WAIT_COLUMNS = (SPLITS[0][1], *WAIT_TAIL)
PERIOD_WORDS = {"week": "This week", "30d": "Last 30 days", "90d": "Last 90 days", "year": "Year"}
PASSED_SHOWN = 8
NEVER_SHOWN = 6


@dataclass(frozen=True)
class Panel:
    """Both reports for one period, as plain values."""

    period: str
    lead: dict[str, Any] = field(default_factory=dict)
    fair: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def read_panel(period: str) -> Panel:
    try:
        clinic = get_clinic()
        since, until = period_bounds(period, clock.today(clinic.time_zone))
        return Panel(
            period,
            lead_time_report(clinic, since, until),
            fairness_report(clinic, since, until),
        )
    except DomainError as err:
        return Panel(period, error=err.message)


class PanelRead(calls.Done[Panel]):
    pass


def rule_cell(band: dict[str, Any]) -> str:
    rule = band.get("rule")
    if not rule:
        return "-"
    hold = "to deadline" if rule["hold_minutes"] is None else f"{rule['hold_minutes']} min"
    top = f" top {rule['top']}" if rule.get("top") else ""
    return f"{rule['workflow'][:3]}{top}, {hold}"


def band_rows(lead: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        (
            b["band"],
            (
                b["band"],
                rule_cell(b),
                b["openings"],
                b["filled"],
                f"{b['fill_rate']:.1f}",
                b["offers"],
                f"{b['offers_per_fill']:.1f}",
                f"{b['median_minutes_to_fill']:.0f}",
            ),
        )
        for b in lead.get("bands", [])
    ]


def wait_rows(fair: dict[str, Any], split: str) -> list[tuple[str, tuple[Any, ...]]]:
    """One split of the median wait before a first offer, as table rows."""
    waits = fair.get("wait_before_first_offer", {}).get(split, [])
    return [
        (str(w["key"]), (printable(str(w["key"])), w["entries"], f"{w['median_days']:.1f}"))
        for w in waits
    ]


def passed_text(fair: dict[str, Any]) -> Text:
    items = fair.get("passed_over", [])
    text = Text()
    text.append(f"Offered past a waiting candidate who fitted: {len(items)}\n", "bold")
    for item in items[:PASSED_SHOWN]:
        offered = ", ".join(f"#{o['rank']} {printable(o['client'])}" for o in item["offered"])
        past = "; ".join(
            f"#{p['rank']} {printable(p['client'])}: {p['reason']}" for p in item["passed_over"]
        )
        at = dt.date.fromisoformat(item["on"])
        text.append(f"· {at:%d %b} to {offered}, past {past}\n")
    if len(items) > PASSED_SHOWN:
        text.append(f"  and {len(items) - PASSED_SHOWN} more (stats fairness)\n", "dim")
    never = fair.get("never_offered", {"count": 0, "items": []})
    text.append(
        f"\nWaiting over {fair.get('wait_days', 30)} days, fitted an opening, never offered: "
        f"{never['count']}\n",
        "bold",
    )
    for e in never["items"][:NEVER_SHOWN]:
        text.append(
            f"· {printable(e['client'])} (priority {e['priority']}, {e['waited_days']} days, "
            f"fitted {e['fitted_openings']})\n"
        )
    return text


class FairnessPanel(DeskScreen[None]):
    """Lead-time bands, passed-over offers, waits before a first offer (by priority, service
    or provider), never offered."""

    HELP_TITLE = "fairness panel"

    DEFAULT_CSS = """
    FairnessPanel #fair-title {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    FairnessPanel #fair-bands {
        height: auto;
        max-height: 8;
    }
    FairnessPanel #fair-lower {
        height: 1fr;
    }
    FairnessPanel #fair-waits {
        width: 34;
    }
    FairnessPanel #fair-list {
        width: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="fairness.refresh", tooltip="Read the reports again"),
        Binding(
            "b",
            "next_split",
            "By",
            id="fairness.split",
            tooltip="The wait before a first offer by priority, by service, or by provider",
        ),
        Binding("escape,q", "back", "Dashboard", id="fairness.back", tooltip="Back"),
    ]

    def __init__(self, period: str = "30d") -> None:
        super().__init__()
        self.period = period
        self.split = 0  # index into SPLITS
        self.fair: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading…", id="fair-title")
        bands: DataTable[object] = FastTable(id="fair-bands", cursor_type="none")
        bands.add_columns(*BAND_COLUMNS)
        yield bands
        with Horizontal(id="fair-lower"):
            waits: DataTable[object] = FastTable(id="fair-waits", cursor_type="none")
            waits.add_columns(*WAIT_COLUMNS)
            yield waits
            with VerticalScroll(id="fair-list"):
                yield Static("", id="fair-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Fairness and lead time"
        self.load()

    def load(self) -> None:
        self.calls.read(read_panel, self.period, done=PanelRead, group="fairness")

    @on(PanelRead)
    def panel_read(self, message: PanelRead) -> None:
        panel = message.value
        title = self.query_one("#fair-title", Static)
        if panel.error:
            title.update(Text(panel.error, "bold red"))
            return
        lead, fair = panel.lead, panel.fair
        source = "the clinic's offer rules" if lead["configured"] else "default bands"
        period = PERIOD_WORDS.get(panel.period, panel.period)
        title.update(f"{period} · {fair['rankings']} rankings recorded · lead time in {source}")
        fill(self.query_one("#fair-bands", DataTable), BAND_COLUMNS, band_rows(lead))
        self.fair = fair
        self.show_waits()
        self.query_one("#fair-text", Static).update(passed_text(fair))

    def show_waits(self) -> None:
        split, label = SPLITS[self.split]
        table = self.query_one("#fair-waits", DataTable)
        fill(table, (label, *WAIT_TAIL), wait_rows(self.fair, split))

    def action_next_split(self) -> None:
        self.split = (self.split + 1) % len(SPLITS)
        if self.fair:
            self.show_waits()

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)
