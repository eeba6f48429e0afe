"""The match finder's keys: enter does what the focused list is for, the rest are one letter."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from waitlist_tui.tui.screens.fairness_dialogs import why_key

BINDINGS: list[BindingType] = [
    Binding(
        "enter",
        "choose",
        "Choose",
        id="finder.choose",
        tooltip="Calendar: use this appointment's time · candidates: offer to this client",
        priority=True,
    ),
    Binding("b", "broadcast", "Broadcast", id="finder.broadcast", tooltip="Offer to the top N"),
    Binding("p", "toggle_partial", "Partial", id="finder.partial", tooltip="Show or hide PARTIAL"),
    Binding("e", "edit", "Edit", id="finder.edit", tooltip="Open the candidate's entry"),
    Binding("s", "slots", "Slots", id="finder.slots", tooltip="Free slots for them"),
    Binding("f", "type_slot", "Slot", id="finder.type", tooltip="Provider, date, time"),
    Binding(
        "c",
        "calendar",
        "Calendar",
        id="finder.calendar",
        tooltip="The day's bookings",
        show=False,
    ),
    why_key("finder"),
    Binding(
        "x",
        "skip",
        "Skip",
        id="finder.skip",
        tooltip="Skip this candidate for this opening, saying why (kept in its fairness record)",
        show=False,
    ),
    Binding("]", "day(1)", "Next day", id="finder.next_day", show=False),
    Binding("[", "day(-1)", "Prev day", id="finder.prev_day", show=False),
    Binding("ctrl+r", "reload", "Refresh", id="finder.refresh", show=False),
    Binding("escape", "back", "Back", id="finder.back", tooltip="Back to the queue"),
]
