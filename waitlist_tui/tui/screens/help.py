"""Help: the keys of the screen it was opened from, and how the daily jobs go.

The key list is read from the live bindings of that screen (and the app), so it cannot drift
from what the keys really do.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from waitlist_tui.tui.widgets.footer import Footer

HOW_TO = (
    "[b]A cancellation comes in[/b]\n"
    "[b]m[/b] opens the match finder on today's calendar: the cursor sits on the next booking; "
    "move to the client's, [b]enter[/b], [b]y[/b]: the appointment is cancelled and the people "
    "who fit its time are ranked (EXACT first). [b]enter[/b] offers it to the highlighted one, "
    "[b]b[/b] to the top N at once, [b]p[/b] hides or shows PARTIAL matches. A gap that was "
    "never booked: [b]f[/b], provider, date, time, [b]enter[/b].\n"
    "A client on the phone who wants anything sooner: [b]o[/b] on their entry in the queue "
    "lists the free slots that fit it; [b]enter[/b] offers one.\n\n"
    "[b]Replies[/b]\n"
    "[b]t[/b] opens the offers waiting for a reply, soonest to expire first. [b]a[/b] books, "
    "[b]d[/b] declines (the next candidate gets it when offers go one at a time), [b]r[/b] "
    "withdraws it, [b]c[/b] logs a call (no answer, voicemail, declined by phone).\n\n"
    "[b]Adding an entry[/b]\n"
    "[b]n[/b], type part of the client's name or phone, [b]enter[/b] picks the highlighted "
    "client (the last line creates a new one), choose the service, type the first date "
    "(today, tomorrow, +2w, fri, 1 dec, 2026-12-01), [b]ctrl+s[/b]. Days toggle with 1-7, "
    "parts of day with 1-3. [b]escape[/b] asks before throwing away what you typed.\n\n"
    "[b]Finding someone[/b]\n"
    "[b]/[/b] searches names, phones and emails as you type; [b]f[/b] filters by status, "
    "service and provider; [b]s[/b] changes the order; [b]escape[/b] goes back to the list."
)


def key_table(screen: Screen) -> Table:
    """The screen's and the app's bindings (not a focused widget's arrows), grouped by action."""
    table = Table(box=None, show_header=True, header_style="bold", padding=(0, 2, 0, 0))
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("Does")
    table.add_column("Binding id", style="dim")
    groups: dict[tuple[int, str], list[Binding]] = {}
    for active in screen.active_bindings.values():
        if active.node is not screen and active.node is not screen.app:
            continue
        if active.node.check_action(active.binding.action, ()) is False:
            continue  # hidden on this desk (a manager's key on a desk-role login)
        if active.binding.description:
            groups.setdefault((id(active.node), active.binding.action), []).append(active.binding)
    for bindings in groups.values():
        first = bindings[0]
        keys = " / ".join(dict.fromkeys(screen.app.get_key_display(b) for b in bindings))
        what = f"{first.description}: {first.tooltip}" if first.tooltip else first.description
        ids = ", ".join(dict.fromkeys(b.id for b in bindings if b.id))  # one key list, one id
        table.add_row(keys, what, ids)
    return table


class HelpScreen(Screen[None]):
    """Opened with ? or f1 from any screen; escape goes back."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Back", id="help.back", tooltip="Close help")
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="help-body"):
            title = getattr(self.under, "HELP_TITLE", type(self.under).__name__)
            yield Static(Text(f"Keys on the {title}", style="bold"), classes="help-title")
            yield Static(key_table(self.under), id="help-keys")
            yield Static(Text("How the daily jobs go", style="bold"), classes="help-title")
            yield Static(HOW_TO, id="help-howto")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Help"

    def action_close(self) -> None:
        self.dismiss(None)
