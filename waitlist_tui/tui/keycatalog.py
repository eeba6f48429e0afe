"""Every key binding of the app by id: what `waitlist-tui keys` prints and what a config
file's [keys] table is checked against."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode


@dataclass(frozen=True)
class KeyEntry:
    screen: str
    id: str
    keys: str
    description: str
    tooltip: str


def _screens() -> list[tuple[str, type[DOMNode]]]:
    from waitlist_tui.tui.desk import Desk
    from waitlist_tui.tui.screens import (
        attempt_dialog,
        audit,
        dashboard,
        demand,
        dialogs,
        editor,
        finder,
        help,
        history,
        messages,
        queue,
        slots,
        triage,
    )

    return [
        ("everywhere", Desk),
        ("queue", queue.QueueScreen),
        ("entry editor", editor.EditorScreen),
        ("match finder", finder.FinderScreen),
        ("free slots", slots.SlotsScreen),
        ("offers", triage.TriageScreen),
        ("call attempt", attempt_dialog.AttemptDialog),
        ("stats", dashboard.DashboardScreen),
        ("unmet demand", demand.DemandScreen),
        ("messages", messages.MessagesScreen),
        ("entry history", history.HistoryScreen),
        ("audit trail", audit.AuditScreen),
        ("help", help.HelpScreen),
        ("confirm", dialogs.ConfirmDialog),
        ("cancel entry", dialogs.CancelEntryDialog),
        ("broadcast", dialogs.BroadcastDialog),
    ]


def catalog() -> list[KeyEntry]:
    found = []
    for name, cls in _screens():
        for binding in cls.BINDINGS:
            if isinstance(binding, Binding):
                found.append(
                    KeyEntry(
                        name,
                        binding.id or "",
                        binding.key,
                        binding.description,
                        binding.tooltip,
                    )
                )
    return found


def known_ids() -> set[str]:
    return {entry.id for entry in catalog() if entry.id}
