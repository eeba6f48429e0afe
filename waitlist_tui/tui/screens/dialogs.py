"""Small modal questions: yes/no before a change, and a reason before a cancel.

Each answers with one key (y / enter, n / escape) so a confirm costs one key at most.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """A question with a yes and a no."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-question", markup=False)  # names
            if self.detail:
                yield Static(self.detail, classes="dialog-detail", markup=False)
            yield Static(
                f"[b]y[/b]/enter {self.yes}    [b]n[/b]/esc {self.no}", classes="dialog-keys"
            )

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class CancelEntryDialog(ModalScreen[str | None]):
    """Cancelling an entry asks for an optional reason; escape keeps the entry."""

    BINDINGS = [Binding("escape", "keep", "Keep entry", id="cancel_entry.keep")]

    def __init__(self, who: str, what: str) -> None:
        super().__init__()
        self.who, self.what = who, what

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Cancel the waitlist entry of {self.who}?",
                classes="dialog-question",
                markup=False,  # a name is text: "[" in it is not a style
            )
            yield Static(self.what, classes="dialog-detail", markup=False)
            yield Input(placeholder="Reason (optional), e.g. booked elsewhere", id="reason")
            yield Static(
                "[b]enter[/b] Cancel the entry    [b]esc[/b] Keep it", classes="dialog-keys"
            )

    @on(Input.Submitted, "#reason")
    def confirm(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_keep(self) -> None:
        self.dismiss(None)


class BroadcastDialog(ModalScreen[int | None]):
    """How many clients get a broadcast offer at once; the clinic's default is typed in."""

    BINDINGS = [Binding("escape", "keep", "Don't send", id="broadcast.cancel")]

    def __init__(self, slot: str, default: int, exact: int) -> None:
        super().__init__()
        self.slot, self.default, self.exact = slot, default, exact

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Broadcast {self.slot}", classes="dialog-question", markup=False)
            yield Static(
                f"The top N candidates get the offer at once; the first to accept books it "
                f"and the others' offers are withdrawn. {self.exact} exact matches.",
                classes="dialog-detail",
            )
            yield Input(value=str(self.default), type="integer", id="top")
            yield Static("", id="broadcast-error")
            yield Static(
                "[b]enter[/b] Send to the top N    [b]esc[/b] Don't send", classes="dialog-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#top", Input).select_all()

    @on(Input.Submitted, "#top")
    def confirm(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text.isdigit() or not 1 <= int(text) <= 50:
            self.query_one("#broadcast-error", Static).update(
                "[b red]top: a whole number of clients from 1 to 50[/]"
            )
            return
        self.dismiss(int(text))

    def action_keep(self) -> None:
        self.dismiss(None)
