"""WaitlistApp: the screens, global actions and make_app, the one factory the CLI and every
test use."""

from __future__ import annotations

import gc
import logging
import os
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import replace
from typing import Any

from textual import on
from textual.app import App
from textual.screen import ModalScreen
from textual.worker import Worker

from waitlist_tui.config import Settings
from waitlist_tui.domain import session
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.startup import started
from waitlist_tui.tui import calls, userconfig
from waitlist_tui.tui.commands import ActionsProvider, EntriesProvider, ScreensProvider
from waitlist_tui.tui.desk import Desk
from waitlist_tui.tui.queue_data import Loaded
from waitlist_tui.tui.screens.queue import QueueScreen

READY_ENV = "WAITLIST_TUI_EXIT_WHEN_READY"  # benchmarks: quit once the queue is painted
EXIT_AFTER_READY_S = 0.05
EXPIRE_EVERY_S = 60.0  # the app's own expiry timer: offers past their deadline end on time
CALENDAR_EVERY_S = 60.0  # how often the app asks whether the calendars' sync is due
BACKUP_EVERY_S = 600.0  # how often the app asks whether the clinic's backup is due
log = logging.getLogger("waitlist_tui.app")


class WarmedUp(calls.Done[list[str]]):
    """Other screens' modules are loaded; the value: binding ids in config.toml that no
    binding has."""


class Exposed(calls.Done[list[dict[str, str]]]):
    """The database's files and folders that other users of the machine can read."""


class BackedUp(calls.Done["dict[str, Any] | None"]):
    """The clinic's scheduled backup ran: its report, or {"error": ...}; None: not due."""


class WaitlistApp(Desk):
    """The reception desk."""

    CSS_PATH = "app.tcss"
    TITLE = "waitlist-tui"
    COMMANDS = App.COMMANDS | {ScreensProvider, EntriesProvider, ActionsProvider}
    THEMES = ("textual-dark", "textual-light")  # the two checked at 80x24

    def __init__(
        self,
        staff: str,
        exit_when_ready: bool = False,
        config: userconfig.UserConfig | None = None,
        from_file: bool = False,
        first_page: Future[Loaded] | None = None,
        role: str | None = None,
    ) -> None:
        super().__init__()
        self.first_page = first_page
        self.staff = staff
        # The login's role on the served desk ("desk" hides manager-only keys); None on a
        # local terminal. The domain checks the account's role itself (access/roles.py).
        self.role = role
        self.exit_when_ready = exit_when_ready
        self.warmed = False
        self.from_file = from_file  # tests never read or write the desk's file
        if config is None:
            config = userconfig.load() if from_file else userconfig.UserConfig()
        self.config = config
        self.remember_theme = False
        self.db_url: str | None = None  # make_app sets it: the private-file check, backups
        self.reader = calls.Reader()  # the frequent reads, on a warm connection
        self.calls = calls.Calls(self)
        self.watcher: session.ChangeWatcher | None = None  # other desks' changes (live desks)

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
        if self.watcher is not None:
            self.watcher.stop()  # wakes its thread, which closes its connection
            self.watcher = None
        self.reader.close()

    def watch_other_desks(self) -> None:
        """Start hearing what other desks change (calls.watch_changes), once the queue is up."""
        if self.watcher is None:
            self.watcher = calls.watch_changes(self)

    @on(calls.Changed)
    def changes_heard(self, message: calls.Changed) -> None:
        """Another desk's change: the screens on show read again what they show of it, the
        top one and those a dialog leaves in sight under it. A screen further down reads
        again when it is shown (each reloads on resume)."""
        for screen in reversed(self.screen_stack):
            handle = getattr(screen, "others_changed", None)
            if handle is not None:
                handle(message.changes)
            if not isinstance(screen, ModalScreen):
                break

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
            self.watch_other_desks()
            self.warm_up()

    def warm_up(self) -> None:
        """Load what other screens need after the queue is up, not before."""
        self.calls.read(warm_up, self, done=WarmedUp, group="warm-up", via="none")

    @on(WarmedUp)
    def warmed_up(self, message: WarmedUp) -> None:
        unknown = message.value
        if unknown:
            self.notify(
                f"no binding has the id {', '.join(unknown)}; `waitlist-tui keys` lists them",
                title="config.toml",
                severity="warning",
                timeout=15,
            )
        # What start-up made (modules, styles, widgets) lives as long as the app: out of the
        # collector's way, so a full collection no longer walks it in the middle of a keystroke.
        gc.freeze()
        refresh = getattr(self.screen, "refresh_detail", None)
        if refresh is not None:
            refresh()
        self.set_interval(EXPIRE_EVERY_S, self.expire_due)
        self.set_interval(CALENDAR_EVERY_S, self.calendars_due)
        self.calendars_due()  # a desk opened in the morning reads the night's changes now
        if self.db_url:
            self.calls.read(
                session.exposed_files, self.db_url, done=Exposed, group="private", via="none"
            )
            self.set_interval(BACKUP_EVERY_S, self.backup_due)

    @on(Exposed)
    def exposed(self, message: Exposed) -> None:
        for item in message.value:
            self.notify(
                f"{item['path']} is {item['mode']}: other users of this machine can read the "
                "waitlist. `waitlist-tui maintenance fix-permissions` makes it private.",
                title="private files",
                severity="warning",
                timeout=20,
                markup=False,
            )

    def backup_due(self) -> Worker[dict[str, Any] | None]:
        """The clinic's backups (`[backup] every_hours`), when no cron takes them."""
        return self.calls.write(
            backup_quietly, self.db_url, done=BackedUp, group="backup", exclusive=True
        )

    @on(BackedUp)
    def backed_up(self, message: BackedUp) -> None:
        report = message.value
        if report is None:
            return
        if "error" in report:
            self.notify(report["error"], title="backup", severity="error", timeout=30, markup=False)
        else:
            self.notify(f"backup written: {report['file']}", title="backup", markup=False)

    def expire_due(self) -> Worker[dict[str, int] | None]:
        """The app's own timer: what `waitlist-tui expire` does from cron (offers past their
        deadline end, SEQUENTIAL openings move on, late openings close), so a desk without
        cron still sees deadlines kept. Safe beside other desks: conditional updates."""
        return self.calls.write(
            expire_quietly, done=None, group="expire", exclusive=True, own=False
        )

    def calendars_due(self) -> Worker[dict[str, Any] | None]:
        """The providers' calendars read on the clinic's timer (`[calendar] sync_minutes`,
        checked each minute against the last sync), so a cancellation made in the clinic's
        system reaches the finder without cron."""
        return self.calls.write(
            sync_quietly, done=None, group="calendar", exclusive=True, own=False
        )


def backup_quietly(url: str) -> dict[str, Any] | None:
    """A backup when due; a failure becomes {"error": ...} for the desk to see."""
    try:
        return session.backup_if_due(url)
    except DomainError as err:
        return {"error": err.message}
    except Exception as exc:  # a timer must not take the desk down
        log.exception("backup timer")
        return {"error": f"backup failed: {exc}"}


def sync_quietly() -> dict[str, Any] | None:
    from waitlist_tui.domain.calendar.sync import sync_if_due
    from waitlist_tui.domain.catalog.clinics import get_clinic

    try:
        return sync_if_due(get_clinic(), "system")
    except Exception:  # a timer must not take the desk down; failures are on their sources
        log.exception("calendar timer")
        return None


def warm_up(desk: WaitlistApp) -> list[str]:
    """In a worker: every screen's module imported, then the reader's connection opened
    (the first search finds it warm); the ids in config.toml that no binding has."""
    import phonenumbers  # noqa: F401

    from waitlist_tui.tui.keycatalog import known_ids

    unknown = userconfig.unknown_ids(desk.config, known_ids())  # imports every screen
    # The dashboard's module and its chart library (textual-plotext): ~100 ms to import.
    import waitlist_tui.tui.screens.dashboard  # noqa: F401
    from waitlist_tui.domain.catalog.clinics import get_clinic

    with suppress(DomainError):
        calls.read_now(desk, get_clinic)
    return unknown


def expire_quietly() -> dict[str, int] | None:
    from waitlist_tui.domain.fill.expiry import expire

    try:
        return expire(actor="system")
    except Exception:  # a timer must not take the desk down; the next tick tries again
        log.exception("expiry timer")
        return None


def make_app(
    settings: Settings,
    first_page: Future[Loaded] | None = None,
    config: userconfig.UserConfig | None = None,
) -> WaitlistApp:
    """The desk for `settings.staff` on the database already open. `config` given (tests):
    the desk's config file is neither read nor written."""
    app = WaitlistApp(
        staff=settings.staff,
        exit_when_ready=bool(os.environ.get(READY_ENV)),
        config=config,
        from_file=config is None,
        first_page=first_page,
        role=settings.role,
    )
    app.db_url = settings.db_url or None
    return app
