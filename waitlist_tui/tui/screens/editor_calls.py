"""The entry editor's service calls and the messages their results come back in (calls.py)."""

from __future__ import annotations

from dataclasses import dataclass

from waitlist_tui.domain import vocab
from waitlist_tui.domain.catalog.clients import display_phone, list_clients
from waitlist_tui.domain.catalog.clinics import Catalog, get_clinic, load_catalog
from waitlist_tui.domain.fill.openings import AppointmentView, entry_appointment
from waitlist_tui.domain.waitlist.views import EntryView
from waitlist_tui.tui import calls

MATCH_LIMIT = 6


@dataclass(frozen=True)
class ClientChoice:
    id: str
    label: str


@dataclass(frozen=True)
class Choices:
    """What the form offers, and a booked entry's appointment, read when it opens."""

    catalog: Catalog
    appointment: AppointmentView | None


def read_choices(entry: EntryView | None) -> Choices:
    booked = entry is not None and entry.status == vocab.BOOKED
    return Choices(
        load_catalog(get_clinic()), entry_appointment(entry.id) if entry and booked else None
    )


@dataclass(frozen=True)
class ClientMatches:
    text: str
    found: list[ClientChoice]
    total: int


def search_clients(text: str) -> ClientMatches:
    if not text:
        return ClientMatches(text, [], 0)
    rows, total = list_clients(get_clinic(), text, limit=MATCH_LIMIT)
    found = [
        ClientChoice(
            str(c.id),
            " · ".join(
                x
                for x in (f"{c.first_name} {c.last_name}", display_phone(c.phone), c.email or "")
                if x
            ),
        )
        for c in rows
    ]
    return ClientMatches(text, found, total)


class ChoicesRead(calls.Done[Choices]):
    pass


class ClientsFound(calls.Done[ClientMatches]):
    pass


class EntrySaved(calls.Done[EntryView]):
    pass


class SaveRefused(calls.Failed):
    pass
