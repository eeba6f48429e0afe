"""A row of on/off choices worked from the keyboard: digits toggle, arrows move, space flips.

Days and parts of day are a handful of short choices that a receptionist sets while talking;
one digit per choice is quicker than walking a list.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class ToggleRow(Widget, can_focus=True):
    """Choices shown as `1 Mon  2 Tue ...`; the set ones are highlighted."""

    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("space", "flip", "Toggle", show=False),
        Binding("0", "clear", "None", show=False),
    ]
    DEFAULT_CSS = """
    ToggleRow { height: 1; width: auto; }
    ToggleRow:disabled { opacity: 0.6; }
    """

    cursor = reactive(0)
    chosen: reactive[frozenset[str]] = reactive(frozenset())

    class Changed(Message):
        def __init__(self, row: ToggleRow) -> None:
            super().__init__()
            self.row = row

        @property
        def control(self) -> ToggleRow:
            return self.row

    def __init__(
        self,
        options: Sequence[tuple[str, str]],
        chosen: Sequence[str] = (),
        *,
        empty_label: str = "any",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.options = list(options)
        self.empty_label = empty_label
        self.set_reactive(ToggleRow.chosen, frozenset(chosen))

    @property
    def values(self) -> list[str]:
        """The set choices in their display order."""
        return [value for value, _ in self.options if value in self.chosen]

    def set_values(self, values: Sequence[str]) -> None:
        self.chosen = frozenset(values)

    def render(self) -> Text:
        text = Text()
        for index, (value, label) in enumerate(self.options):
            on = value in self.chosen
            style = "bold reverse" if on else ""
            if self.has_focus and index == self.cursor:
                style += " underline"
            text.append(f"{index + 1}", style="dim")
            text.append(f" {label} ", style=style.strip())
            text.append(" ")
        if not self.chosen:
            text.append(f"({self.empty_label})", style="dim italic")
        return text

    def _toggle(self, index: int) -> None:
        value = self.options[index][0]
        self.chosen = self.chosen ^ {value}

    def watch_chosen(self) -> None:
        self.post_message(self.Changed(self))

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit():
            number = int(event.character)
            if 1 <= number <= len(self.options):
                event.stop()
                event.prevent_default()
                self.cursor = number - 1
                self._toggle(number - 1)

    def action_move(self, step: int) -> None:
        self.cursor = (self.cursor + step) % len(self.options)

    def action_flip(self) -> None:
        self._toggle(self.cursor)

    def action_clear(self) -> None:
        self.chosen = frozenset()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
