"""What the entry editor holds, as plain values, and how it becomes a create or PATCH payload.

The screen only copies widget values into an EntryForm; reading quick dates, defaulting the
end of the range and working out which fields an edit changed happen here, so they are
tested without a screen and the same rules reach the domain as from the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.quickdates import parse_quick_date
from waitlist_tui.domain.waitlist.views import EntryView

DEFAULT_PAYMENT = vocab.SELF_PAY
DEFAULT_PRIORITY = 3


@dataclass
class EntryForm:
    client_id: str | None = None
    new_client: dict[str, str] | None = None  # first_name, last_name, phone, email
    # A new client's answers (None: not asked yet; a clinic that asks refuses to save it).
    consent_sms: bool | None = None
    consent_email: bool | None = None
    service: str | None = None
    providers: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    time_start: str = ""
    time_end: str = ""
    start_text: str = ""
    end_text: str = ""
    payment_type: str = DEFAULT_PAYMENT
    priority: int = DEFAULT_PRIORITY
    notes: str = ""
    keep_later: bool = False  # keep a later appointment when moved up (no knock-on release)

    @classmethod
    def of(cls, view: EntryView) -> EntryForm:
        return cls(
            client_id=str(view.client.id),
            service=view.service.code,
            providers=[p.code for p in view.preferred_providers],
            days=list(view.preferred_days),
            parts=list(view.preferred_time_slots),
            time_start=view.preferred_time_start or "",
            time_end=view.preferred_time_end or "",
            start_text=view.date_range_start.isoformat(),
            end_text=view.date_range_end.isoformat(),
            payment_type=view.payment_type,
            priority=view.priority,
            notes=view.notes,
            keep_later=view.keep_later_appointment,
        )

    def dates(self, today: dt.date, max_span_days: int) -> tuple[dt.date, dt.date]:
        """Start (blank: today) and end (blank: start + the clinic's maximum span)."""
        start = (
            parse_quick_date(self.start_text, today, "date_range_start")
            if self.start_text.strip()
            else today
        )
        if not self.end_text.strip():
            return start, start + dt.timedelta(days=max_span_days)
        # An end typed as `+2w` counts from the start: "for two weeks".
        return start, parse_quick_date(self.end_text, today, "date_range_end", offset_from=start)

    def _preferences(self, today: dt.date, max_span_days: int) -> dict[str, Any]:
        start, end = self.dates(today, max_span_days)
        return {
            "service": self.service,
            "preferred_providers": list(self.providers),
            "preferred_days": list(self.days),
            "preferred_time_slots": list(self.parts),
            "preferred_time_start": self.time_start.strip() or None,
            "preferred_time_end": self.time_end.strip() or None,
            "date_range_start": start.isoformat(),
            "date_range_end": end.isoformat(),
            "payment_type": self.payment_type,
            "priority": self.priority,
            "notes": self.notes.strip(),
            "keep_later_appointment": self.keep_later,
        }

    def create_payload(self, today: dt.date, max_span_days: int) -> dict[str, Any]:
        payload = self._preferences(today, max_span_days)
        if self.new_client is not None:
            client: dict[str, Any] = {k: (v.strip() or None) for k, v in self.new_client.items()}
            for key in ("consent_sms", "consent_email"):
                if getattr(self, key) is not None:
                    client[key] = getattr(self, key)
            payload["client"] = client
        else:
            payload["client_id"] = self.client_id
        return payload

    def patch(self, view: EntryView, today: dt.date, max_span_days: int) -> dict[str, Any]:
        """Only the fields that changed, with the version the form was read at."""
        before = EntryForm.of(view)._preferences(view.date_range_start, max_span_days)
        before["date_range_start"] = view.date_range_start.isoformat()
        before["date_range_end"] = view.date_range_end.isoformat()
        after = self._preferences(today, max_span_days)
        if self.start_text == view.date_range_start.isoformat():
            after["date_range_start"] = before["date_range_start"]
        if self.end_text == view.date_range_end.isoformat():
            after["date_range_end"] = before["date_range_end"]
        changed = {k: v for k, v in after.items() if _norm(v) != _norm(before[k])}
        if changed:
            changed["version"] = view.version
        return changed


def _norm(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value
