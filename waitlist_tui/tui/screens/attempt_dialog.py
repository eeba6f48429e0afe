"""Log a phone call about an offer: how it went (1/2/3) and an optional note.

Dismisses with (outcome, note) or None. The outcomes and their labels come from the domain;
what each one does to the offer is decided there too.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from waitlist_tui.domain.fill.contact_attempts import OUTCOME_LABELS, OUTCOMES

Attempt = tuple[str, str]


class AttemptDialog(ModalScreen[Attempt | None]):
    """A digit picks the outcome and moves to the note; enter saves; escape cancels."""

    DEFAULT_CSS = """
    AttemptDialog {
        align: center middle;
    }
    AttemptDialog #attempt-box {
        width: 64;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    AttemptDialog #attempt-outcomes {
        height: auto;
        margin: 1 0;
    }
    AttemptDialog #attempt-hint {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("1", "pick(0)", "No answer", id="attempt.no_answer", tooltip="Nobody picked up"),
        Binding("2", "pick(1)", "Voicemail", id="attempt.voicemail", tooltip="Left a message"),
        Binding("3", "pick(2)", "Declined", id="attempt.declined", tooltip="The client said no"),
        Binding("escape", "cancel", "Cancel", id="attempt.cancel", tooltip="Log nothing"),
    ]

    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who

    def compose(self) -> ComposeResult:
        with Vertical(id="attempt-box"):
            yield Static(f"Call {self.who}: how did it go?", id="attempt-title", markup=False)
            yield OptionList(
                *(
                    Option(f"{n}  {OUTCOME_LABELS[o].capitalize()}", id=o)
                    for n, o in enumerate(OUTCOMES, 1)
                ),
                id="attempt-outcomes",
            )
            yield Input(placeholder="Note (optional)", id="attempt-note", max_length=500)
            yield Static("1/2/3 pick · tab note · enter save · escape cancel", id="attempt-hint")

    def on_mount(self) -> None:
        outcomes = self.query_one(OptionList)
        outcomes.highlighted = 0
        outcomes.focus()

    def action_pick(self, index: int) -> None:
        """Choose an outcome and go straight to the note."""
        self.query_one(OptionList).highlighted = index
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    @on(Input.Submitted)
    def save(self) -> None:
        index = self.query_one(OptionList).highlighted
        note = self.query_one(Input).value.strip()
        self.dismiss((OUTCOMES[index or 0], note))
