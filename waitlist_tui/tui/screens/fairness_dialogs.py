"""The fairness record on screen: `w` in the finder and the triage screen shows what the desk
saw when the opening was offered, and `x` in the finder skips a candidate with a reason.

The words are the domain's (fill/fairness.py); these dialogs only lay them out.
"""

from __future__ import annotations

import pendulum
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from waitlist_tui.domain.fill import fairness
from waitlist_tui.domain.fill.fairness import OpeningWhy
from waitlist_tui.domain.textinput import printable


def why_key(screen: str) -> Binding:
    """`w` on a screen (`screen.why`: each binding id is unique for the keymap)."""
    return Binding(
        "w",
        "why",
        "Why",
        id=f"{screen}.why",
        tooltip="Why this opening went to whom: the ranking the desk saw, and who was passed over",
        show=False,
    )


def read_why(opening_id: object) -> OpeningWhy:
    """The worker's call: every ranking of the opening, with today's names."""
    return fairness.why(str(opening_id))


def why_lines(why: OpeningWhy) -> list[str]:
    """One block per offer call: who offered, how (the workflow and its rule), and the
    ranking in the record's words; the desk's skips after."""
    if not why.rankings:
        return [why.text()]
    lines = []
    for n, ranking in enumerate(why.rankings, 1):
        at = pendulum.instance(ranking.at).in_timezone(why.time_zone)
        head = f"{n}. {at.format('ddd D MMM HH:mm')} by {ranking.by}"
        if ranking.why_workflow:
            head += f" · {ranking.why_workflow}"
        lines.append(printable(head))
        for part in ranking.summary().split("; "):
            lines.append(f"  · {printable(part)}")
    return lines


class WhyDialog(ModalScreen[None]):
    """The fairness record of one opening; any of esc, enter or w closes it."""

    DEFAULT_CSS = """
    WhyDialog {
        align: center middle;
    }
    WhyDialog #why-dialog {
        width: 100;
        max-width: 95%;
    }
    WhyDialog #why-lines {
        height: auto;
        max-height: 20;
    }
    """

    BINDINGS = [Binding("escape,enter,w", "close", "Close", id="why.close")]

    def __init__(self, title: str, why: OpeningWhy) -> None:
        super().__init__()
        self.title_text, self.why = title, why

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="why-dialog"):
            yield Label(self.title_text, classes="dialog-question", markup=False)
            with VerticalScroll(id="why-lines"):
                yield Static("\n".join(why_lines(self.why)), markup=False, id="why-body")
            yield Static("[b]esc[/b]/enter Close", classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)


class SkipDialog(ModalScreen[str | None]):
    """Skipping a candidate asks why (required: it goes into the fairness record)."""

    DEFAULT_CSS = """
    SkipDialog {
        align: center middle;
    }
    """

    BINDINGS = [Binding("escape", "keep", "Keep", id="skip.keep")]

    def __init__(self, who: str, slot: str) -> None:
        super().__init__()
        self.who, self.slot = who, slot

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Skip {self.who} for {self.slot}?", classes="dialog-question", markup=False
            )
            yield Static(
                "They are left out of this opening's offers; the reason is kept in its "
                "fairness record (w shows it).",
                classes="dialog-detail",
            )
            yield Input(placeholder="Reason, e.g. asked for afternoons only", id="skip-reason")
            yield Static("", id="skip-error")
            yield Static("[b]enter[/b] Skip them    [b]esc[/b] Keep them", classes="dialog-keys")

    @on(Input.Submitted, "#skip-reason")
    def confirm(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#skip-error", Static).update(
                "[b red]reason: say why they are skipped[/]"
            )
            return
        self.dismiss(text)

    def action_keep(self) -> None:
        self.dismiss(None)
