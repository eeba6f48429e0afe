"""The queue's keys: the home screen has the most, and each names what it does and where it
goes (the help screen, the footer, the palette and `waitlist-tui keys` read them)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

BINDINGS: list[BindingType] = [
    Binding("n", "new_entry", "New", id="queue.new", tooltip="Add a waitlist entry"),
    Binding("e", "edit_entry", "Edit", id="queue.edit", tooltip="Open the cursor entry"),
    Binding(
        "o",
        "offer_slot",
        "Offer",
        id="queue.offer",
        tooltip="Find free slots for the cursor entry and offer one",
    ),
    Binding(
        "x",
        "cancel_entry",
        "Cancel",
        id="queue.cancel",
        tooltip="Cancel the cursor entry (asks first)",
    ),
    Binding(
        "m",
        "finder",
        "Fill slot",
        id="queue.finder",
        tooltip="Match finder: a cancelled appointment or a free slot to the right clients",
    ),
    Binding(
        "h",
        "history",
        "History",
        id="queue.history",
        tooltip="The cursor entry's history: who changed what, and when (its audit trail)",
        show=False,  # the footer is full; help, the palette and `keys` list it
    ),
    Binding("t", "triage", "Offers", id="queue.triage", tooltip="Offers waiting for a reply"),
    Binding(
        "S",
        "dashboard",
        "Stats",
        id="queue.dashboard",
        tooltip="How well the waitlist fills the calendar: figures, weekly chart, tables",
    ),
    Binding(
        "A",
        "audit_trail",
        "Audit",
        id="queue.audit",
        tooltip="Who changed what, and when, across the clinic (managers)",
        show=False,
    ),
    Binding(
        "slash",
        "search",
        "Search",
        id="queue.search",
        tooltip="Find a client by name, phone or email as you type",
    ),
    Binding(
        "f",
        "filters",
        "Filters",
        id="queue.filters",
        tooltip="Filter by status, service and provider",
    ),
    Binding(
        "s",
        "cycle_sort",
        "Sort",
        id="queue.sort",
        tooltip="Priority + wait, longest wait, or date range start",
    ),
    Binding(
        "]",
        "next_page",
        "Next page",
        id="queue.next_page",
        tooltip="Show the next page",
        show=False,
    ),
    Binding(
        "[",
        "prev_page",
        "Prev page",
        id="queue.prev_page",
        tooltip="Show the previous page",
        show=False,
    ),
    Binding(
        "ctrl+r",
        "refresh",
        "Refresh",
        id="queue.refresh",
        tooltip="Reload from the database now",
        show=False,
    ),
    Binding(
        "escape",
        "back_to_list",
        "List",
        id="queue.back",
        show=False,
        tooltip="Leave the filter bar for the list",
    ),
]
