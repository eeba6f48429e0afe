"""An imported entry's audit text, put together per field (importing.entry_audit_json), is
the text the whole changes dict encodes to (adding.audit_changes, importing.as_json): byte
for byte, for payloads that set, leave out and repeat every field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain.store.models import Clinic
from waitlist_tui.domain.waitlist import adding, importing

PAYLOADS: list[dict[str, Any]] = [
    entry_payload(),
    entry_payload(notes='quotes " and \\ and ünïcode\nand a line'),
    entry_payload(preferred_providers=["KIM"], preferred_days=["MONDAY", "FRIDAY"]),
    entry_payload(preferred_time_start="09:00", preferred_time_end="12:00", priority=1),
    entry_payload(expires_at="2026-12-20T10:00:00Z", keep_later_appointment="yes"),
    entry_payload(original_appointment_at="2026-12-01 09:30", appointment_type="Follow Up"),
    entry_payload(payment_type="INSURANCE_PAY", notes=""),
    entry_payload(date_range_start="2026-11-25", date_range_end="2026-12-10"),
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_audit_text_is_the_whole_dicts_encoding(clinic: Clinic, payload: Any) -> None:
    for _ in range(2):  # the second time from the remembered pieces
        ready = adding.prepare(dict(payload), STAFF, clinic, refs=importing.CachedRefs())
        whole = importing.as_json(
            adding.audit_changes({**ready.values, "client": None}, ready.providers, None)
        )
        assert importing.entry_audit_json(ready.values, ready.providers) == whole
