"""The bulk writers' column lists name every column of their tables: a column added to a
model without its place in the demo build's and the import's rows fails here, not in a
NOT NULL at a clinic's import."""

from __future__ import annotations

from waitlist_tui.domain.store.bulk_columns import (
    AUDIT_COLUMNS,
    CLIENT_COLUMNS,
    ENTRY_COLUMNS,
    ENTRY_DEFAULTED,
)
from waitlist_tui.domain.store.models import AuditEvent, Client, Entry


def columns(model) -> set[str]:
    return {field.column_name for field in model._meta.sorted_fields}


def test_every_column_of_entry_and_client_is_in_the_bulk_rows() -> None:
    assert set(ENTRY_COLUMNS) | set(ENTRY_DEFAULTED) == columns(Entry)
    assert not set(ENTRY_COLUMNS) & set(ENTRY_DEFAULTED)
    assert set(CLIENT_COLUMNS) == columns(Client)
    assert set(AUDIT_COLUMNS) == columns(AuditEvent) - {"id"}  # the database numbers them
