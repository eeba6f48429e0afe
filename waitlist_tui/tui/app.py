"""WaitlistApp: the screens, global bindings and the one factory the CLI and tests share."""

from __future__ import annotations

import os

from textual.app import App
from textual.binding import Binding

from waitlist_tui.tui.screens.queue import QueueScreen

READY_ENV = "WAITLIST_TUI_EXIT_WHEN_READY"  # benchmarks: quit once the queue is painted


class WaitlistApp(App[None]):
    """The reception desk."""

    CSS_PATH = "app.tcss"
    TITLE = "waitlist-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the app"),
    ]

    def __init__(self, staff: str, exit_when_ready: bool = False) -> None:
        super().__init__()
        self.staff = staff
        self.exit_when_ready = exit_when_ready

    def on_mount(self) -> None:
        self.push_screen(QueueScreen())

    def queue_ready(self) -> None:
        """Called by the queue once its first page is on screen."""
        if self.exit_when_ready:
            self.call_after_refresh(self.exit)


def make_app(staff: str) -> WaitlistApp:
    return WaitlistApp(staff=staff, exit_when_ready=bool(os.environ.get(READY_ENV)))
