"""What a screen may ask of the app, typed, without importing tui/app.py (which imports the
screens): `self.desk` is the app as a Desk, `self.calls` the screen's service calls."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TypeVar, cast

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from waitlist_tui.tui.calls import Calls, Reader, Refused
from waitlist_tui.tui.queue_data import Loaded

R = TypeVar("R")


class Desk(App[None]):
    """The reception desk as its screens see it, and its keys everywhere (here, not on
    WaitlistApp, so that the key catalogue reads them without importing the app)."""

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the app"),
        Binding(
            "question_mark,f1",
            "help",
            "Help",
            id="app.help",
            tooltip="Keys of this screen and how the daily jobs go",
        ),
        Binding(
            "ctrl+t",
            "toggle_theme",
            "Light/dark",
            id="app.theme",
            tooltip="Switch between the light and the dark theme (remembered)",
            show=False,
        ),
    ]

    staff: str
    reader: Reader
    calls: Calls
    first_page: Future[Loaded] | None  # the queue's first page, read while the app loaded

    def queue_ready(self) -> None:
        """The queue has a page on screen."""


class DeskScreen(Screen[R]):
    """A screen of the desk."""

    _calls: Calls | None = None

    @property
    def desk(self) -> Desk:
        return cast(Desk, self.app)

    @property
    def calls(self) -> Calls:
        if self._calls is None:
            self._calls = Calls(self)
        return self._calls

    @on(Refused)
    def call_refused(self, message: Refused) -> None:
        """A refusal of a call with no failure message of its own: the desk is told, not
        left waiting."""
        self.notify(message.error.message, severity="error", markup=False)
