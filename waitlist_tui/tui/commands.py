"""The command palette (ctrl+p): go to a screen, jump to a client's entry, run any action of
the screen you are on with its key shown, so that a key nobody remembers is one search away.

Jumps push the target on top of what is open, never pop it: a half-typed entry under the
palette is still there when the desk comes back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen

from waitlist_tui.domain import vocab
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import listing
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls
from waitlist_tui.tui.formatting import date_range, phone_text

SEARCH_LIMIT = 8
MIN_SEARCH = 2  # one letter matches half the waitlist
# Fuzzy matching finds the letters of a client's name scattered in a command's words; the
# entries search matches names, phones and emails as substrings, so its hits rank first.
ENTRY_SCORE = 1000.0


def _push(app, make: Callable[[], Screen]) -> None:
    screen = make()
    if type(app.screen) is not type(screen):
        app.push_screen(screen)


def _queue(app) -> None:
    from waitlist_tui.tui.screens.editor import EditorScreen
    from waitlist_tui.tui.screens.queue import QueueScreen

    while not isinstance(app.screen, QueueScreen) and len(app.screen_stack) > 1:
        if isinstance(app.screen, EditorScreen) and app.screen.dirty:
            app.notify("Save (ctrl+s) or discard (esc) the entry first.", severity="warning")
            return
        app.pop_screen()


def _finder():
    from waitlist_tui.tui.screens.finder import FinderScreen

    return FinderScreen()


def _triage():
    from waitlist_tui.tui.screens.triage import TriageScreen

    return TriageScreen()


def _dashboard():
    from waitlist_tui.tui.screens.dashboard import DashboardScreen

    return DashboardScreen()


def _messages():
    from waitlist_tui.tui.screens.messages import MessagesScreen

    return MessagesScreen()


def _audit():
    from waitlist_tui.tui.screens.audit import AuditScreen

    return AuditScreen()


def _new_entry():
    from waitlist_tui.tui.screens.editor import EditorScreen

    return EditorScreen()


DESTINATIONS: list[tuple[str, str, Callable[[], Screen] | None]] = [
    ("Queue", "the waiting and offered entries", None),
    ("Match finder", "a cancelled appointment or a free slot to the right clients", _finder),
    ("Offers waiting for a reply", "book, decline, withdraw, log a call", _triage),
    ("Stats dashboard", "how well the waitlist fills the calendar", _dashboard),
    ("Messages", "what went out to clients, what failed and why", _messages),
    ("New waitlist entry", "add a client to the waitlist", _new_entry),
    ("Audit trail", "who changed what, and when (managers)", _audit),
]


class ScreensProvider(Provider):
    """Go to any screen."""

    def _command(self, make: Callable[[], Screen] | None) -> Callable[[], None]:
        return partial(_queue, self.app) if make is None else partial(_push, self.app, make)

    async def discover(self) -> Hits:
        for name, help_text, make in DESTINATIONS:
            yield DiscoveryHit(f"Go to {name}", self._command(make), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, make in DESTINATIONS:
            text = f"Go to {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    self._command(make),
                    help=help_text,
                )


def _find_entries(text: str) -> list[EntryView]:
    query = listing.EntryQuery(
        statuses=vocab.ENTRY_STATUSES, search=text, sort="newest", limit=SEARCH_LIMIT
    )
    return listing.list_entries(query).items


def _open_entry(app, view: EntryView) -> None:
    from waitlist_tui.tui.screens.editor import EditorScreen

    fresh = calls.fresh_entry(app, view.id)  # another desk may have moved it since the search
    if fresh is not None:
        app.push_screen(EditorScreen(fresh))


class EntriesProvider(Provider):
    """A client's entries by name, phone or email, newest first; enter opens the entry."""

    async def search(self, query: str) -> AsyncIterator[Hit]:
        text = query.strip()
        if len(text) < MIN_SEARCH:
            return
        found = await calls.in_thread(_find_entries, text)
        for rank, view in enumerate(found):
            label = f"{printable(view.client.name)} · {view.service.code} · {view.status}"
            yield Hit(
                ENTRY_SCORE - rank,  # the domain's order (newest first) is the ranking
                Content(label),  # as typed: a str is read as markup ("Ann [/b]" broke it)
                partial(_open_entry, self.app, view),
                text=label,
                help=f"{phone_text(view.client.phone)} · "
                f"{date_range(view.date_range_start, view.date_range_end)} · open the entry",
            )


def screen_actions(screen: Screen[Any]) -> list[tuple[Binding, DOMNode]]:
    """The screen's and the app's bindings with a description, one per action."""
    seen: set[str] = set()
    found: list[tuple[Binding, DOMNode]] = []
    for active in screen.active_bindings.values():
        binding = active.binding
        if active.node is not screen and active.node is not screen.app:
            continue
        if not binding.description or binding.action in seen or binding.action == "command_palette":
            continue
        if active.node.check_action(binding.action, ()) is False:
            continue  # hidden here (a manager's key on a desk-role login)
        seen.add(binding.action)
        found.append((binding, active.node))
    return found


class ActionsProvider(Provider):
    """Every action of the screen under the palette, with its key."""

    def _hits(self) -> list[tuple[str, str, Callable[[], object]]]:
        hits: list[tuple[str, str, Callable[[], object]]] = []
        for binding, node in screen_actions(self.screen):
            key = self.app.get_key_display(binding)
            text = f"{binding.description} ({key})"
            help_text = binding.tooltip or ""
            hits.append((text, help_text, partial(self.app.run_action, binding.action, node)))
        return hits

    async def discover(self) -> Hits:
        for text, help_text, command in self._hits():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._hits():
            score = matcher.match(f"{text} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
