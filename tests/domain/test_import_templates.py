"""A row checked from an earlier row's template (importing.RowTemplate) is the row a full
check (adding.prepare) makes: the same columns, providers, audit text, client and action, and
a row that fails gets prepare's own errors. Rows repeat, vary, and fail in each way a row's
own cells (its client, its notes) and its shared cells can."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STAFF
from waitlist_tui.domain.store.models import Clinic
from waitlist_tui.domain.waitlist import importing

BASE = {
    "first_name": "Jane",
    "last_name": "Doe",
    "phone": "617-555-0142",
    "email": "jane@example.com",
    "service": "PT-EVAL",
    "preferred_providers": "KIM",
    "preferred_days": "MONDAY WEDNESDAY",
    "preferred_time_slots": "MORNING",
    "payment_type": "SELF_PAY",
    "priority": "2",
    "notes": "first",
}


def _rows() -> list[dict[str, str]]:
    variants: list[dict[str, str]] = [
        {},
        {"notes": "second, with ünïcode"},
        {"first_name": "John", "phone": "", "notes": ""},
        {"first_name": "Ann", "email": "", "notes": "a\nline"},
        {"phone": "12", "notes": "a bad phone"},  # the client fails
        {"first_name": "", "notes": "no name"},
        {"phone": "", "email": ""},
        {"notes": "x" * 2001},  # the notes fail
        {"notes": "nul \x00 in it"},
        {"email": "not-an-email"},
        {"service": "MASSAGE", "preferred_providers": ""},
        {"service": "MASSAGE", "preferred_providers": "", "notes": "again"},
        {"service": "MASSAGE", "preferred_providers": "KIM"},  # a shared cell fails
        {"service": "MASSAGE", "preferred_providers": "KIM", "first_name": "Bob"},
        {"priority": "9"},
        {"priority": "9", "notes": "the same bad priority"},
        {"date_range_start": "2026-12-01", "date_range_end": "2026-12-20"},
        {"date_range_start": "2026-12-01", "date_range_end": "2026-12-20", "notes": "b"},
        {"date_range_end": "2020-01-01"},
        {"preferred_time_start": "09:00", "preferred_time_end": "12:00"},
        {"preferred_time_start": "09:00", "preferred_time_end": "12:00", "last_name": "Roe"},
        {"expires_at": "2027-01-10T10:00:00Z"},
        {"expires_at": "2027-01-10T10:00:00Z", "notes": "expiring too"},
        {"consent_sms": "no"},
        {"consent_sms": "no", "notes": "consent stated"},
        {"consent_sms": "perhaps"},
    ]
    rows = []
    for i, change in enumerate(variants * 2):  # each twice: the second from its template
        row = {**BASE, **change}
        row.setdefault("consent_sms", "")
        if i >= len(variants):
            row["last_name"] = row["last_name"] + " II" if row["last_name"] else ""
        rows.append(row)
    return rows


def _checked(clinic: Clinic, quick: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    if not quick:
        monkeypatch.setattr(importing.Checker, "quick", lambda self, number, payload: None)
    errors: list[dict[str, Any]] = []
    checker = importing.Checker(clinic, STAFF, "skip", errors)
    raw: list[tuple[int, str, Any]] = [(n, "csv", row) for n, row in enumerate(_rows(), start=2)]
    client = {"first_name": "Jo", "last_name": "Ng", "email": "jo@example.com"}
    for priority in (1, 1, True, 1.0, "1", "1"):  # equal as keys, not to prepare
        raw.append((len(raw) + 2, "json", {"client": client, "service": "PT-EVAL",
                                           "priority": priority, "notes": "json"}))  # fmt: skip
    records = checker.batch(raw)
    monkeypatch.undo()
    columns = ("id", "clinic_id", "client_id", "service_id", *importing._ENTRY_TAIL)
    own = {columns.index(c) for c in ("id", *importing._STAMPED)}  # a row's id and time
    adds = [
        (
            r.number,
            tuple(None if i in own else v for i, v in enumerate(r.row)),
            r.providers,
            r.audit,
            r.person,
            r.client_id,
            r.action,
        )
        for r in records
    ]
    return adds, errors, len(checker.templates)


def test_template_rows_are_the_full_checks(clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    full, full_errors, _ = _checked(clinic, False, monkeypatch)
    quick, quick_errors, templates = _checked(clinic, True, monkeypatch)
    assert templates > 0
    assert quick == full
    assert quick_errors == full_errors
    assert len(full) > 20 and len(full_errors) > 10
