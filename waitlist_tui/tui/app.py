"""WaitlistApp: the screens, global bindings and the one factory the CLI and tests share."""

from __future__ import annotations

import gc
import logging
import os
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import replace

from textual import work
from textual.app import App
from textual.binding import Binding

from waitlist_tui.domain.errors import DomainError
from waitlist_tui.launch import started
from waitlist_tui.tui import userconfig
from waitlist_tui.tui.commands import ActionsProvider, EntriesProvider, ScreensProvider
from waitlist_tui.tui.queue_data import Loaded
from waitlist_tui.tui.reader import Reader
from waitlist_tui.tui.screens.queue import QueueScreen

READY_ENV = "WAITLIST_TUI_EXIT_WHEN_READY"  # benchmarks: quit once the queue is painted
EXIT_AFTER_READY_S = 0.05
EXPIRE_EVERY_S = 60.0  # the app's own expiry timer: offers past their deadline end on time
log = logging.getLogger("waitlist_tui.app")


class WaitlistApp(App[None]):
    """The reception desk."""

    CSS_PATH = "app.tcss"
    TITLE = "waitlist-tui"
    COMMANDS = App.COMMANDS | {ScreensProvider, EntriesProvider, ActionsProvider}
    THEMES = ("textual-dark", "textual-light")  # the two checked at 80x24
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

    def __init__(
        self,
        staff: str,
        exit_when_ready: bool = False,
        config: userconfig.UserConfig | None = None,
        first_page: Future[Loaded] | None = None,
    ) -> None:
        super().__init__()
        self.first_page = first_page  # the queue's first page, read while the app loaded
        self.staff = staff
        self.exit_when_ready = exit_when_ready
        self.warmed = False
        self.config = config if config is not None else userconfig.UserConfig()
        self.from_file = config is not None  # tests pass none: they never write a file
        self.remember_theme = False
        self.reader = Reader()  # the finder's and the dashboard's reads, on a warm connection

    def get_default_screen(self) -> QueueScreen:
        """The queue is the bottom of the stack (over a blank default screen, start-up built,
        styled and painted one screen more)."""
        return QueueScreen()

    def on_mount(self) -> None:
        self.apply_config(self.config)
        self.remember_theme = self.from_file  # from now on a change is the desk's choice

    def apply_config(self, config: userconfig.UserConfig) -> None:
        """Keys by binding id and the theme, from the desk's config file."""
        problems = list(config.problems)
        if config.keys:
            self.set_keymap(config.keys)
        if config.theme:
            if config.theme in self.available_themes:
                self.theme = config.theme
            else:
                names = ", ".join(sorted(self.available_themes))
                problems.append(f"theme {config.theme!r} is not one of: {names}")
        for problem in problems:
            self.notify(problem, title="config.toml", severity="warning", timeout=15, markup=False)

    async def action_quit(self) -> None:
        """Every route out of the app (`q`, ctrl+q, the palette) asks before a half-typed entry
        is lost, wherever it sits in the stack."""
        unsaved = [screen for screen in self.screen_stack if getattr(screen, "unsaved", False)]
        if not unsaved or self.exit_when_ready:
            self.exit()
            return
        from waitlist_tui.tui.screens.dialogs import ConfirmDialog

        if isinstance(self.screen, ConfirmDialog):
            return  # already asking

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit()

        self.push_screen(
            ConfirmDialog(
                "Quit and discard the entry you are typing?",
                "What you typed is lost if you quit now.",
                yes="Quit",
                no="Keep editing",
            ),
            answered,
        )

    def action_toggle_theme(self) -> None:
        self.theme = self.THEMES[1] if self.theme == self.THEMES[0] else self.THEMES[0]

    def watch_theme(self, theme: str) -> None:
        if self.remember_theme and theme != self.config.theme:
            userconfig.save_theme(theme)
            self.config = replace(self.config, theme=theme)

    def on_unmount(self) -> None:
        self.reader.close()

    def action_help(self) -> None:
        from waitlist_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def queue_ready(self) -> None:
        """Called by the queue once a page is on screen (after the refresh that painted it)."""
        started()  # garbage collection was held off while the app started (launch.py)
        if self.exit_when_ready:
            # A few frames later: after the next refresh alone, the page was sometimes not
            # yet written to the terminal when the app quit (the benchmark then saw no paint).
            self.set_timer(EXIT_AFTER_READY_S, self.exit)
        elif not self.warmed:
            self.warmed = True
            self.warm_up()

    @work(thread=True, group="warm-up")
    def warm_up(self) -> None:
        """Load what other screens need after the queue is up, not before."""
        import phonenumbers  # noqa: F401

        from waitlist_tui.tui.keycatalog import known_ids

        unknown = userconfig.unknown_ids(self.config, known_ids())  # imports every screen
        if unknown:
            self.call_from_thread(
                self.notify,
                f"no binding has the id {', '.join(unknown)}; `waitlist-tui keys` lists them",
                title="config.toml",
                severity="warning",
                timeout=15,
            )
        # The dashboard's module and its chart library (textual-plotext): ~100 ms to import.
        import waitlist_tui.tui.screens.dashboard  # noqa: F401
        from waitlist_tui.domain.catalog.clinics import get_clinic

        with suppress(DomainError):  # open the reader's connection before the first search
            self.reader.call(get_clinic)

        self.call_from_thread(self.warmed_up)

    def warmed_up(self) -> None:
        # What start-up made (modules, styles, widgets) lives as long as the app: out of the
        # collector's way, so a full collection no longer walks it in the middle of a keystroke.
        gc.freeze()
        refresh = getattr(self.screen, "refresh_detail", None)
        if refresh is not None:
            refresh()
        self.set_interval(EXPIRE_EVERY_S, self.expire_due)

    @work(thread=True, exclusive=True, group="expire")
    def expire_due(self) -> dict[str, int] | None:
        """The app's own timer: what `waitlist-tui expire` does from cron (offers past their
        deadline end, SEQUENTIAL openings move on, late openings close), so a desk without
        cron still sees deadlines kept. Safe beside other desks: conditional updates."""
        from waitlist_tui.domain.fill.expiry import expire
        from waitlist_tui.domain.store.db import database

        try:
            with database.connection_context():
                return expire(actor="system")
        except Exception:  # a timer must not take the desk down; the next tick tries again
            log.exception("expiry timer")
            return None


def make_app(staff: str, first_page: Future[Loaded] | None = None) -> WaitlistApp:
    return WaitlistApp(
        staff=staff,
        exit_when_ready=bool(os.environ.get(READY_ENV)),
        config=userconfig.load(),
        first_page=first_page,
    )
