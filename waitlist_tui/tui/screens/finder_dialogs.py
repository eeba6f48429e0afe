"""What the match finder asks before it writes, and what it says after an offer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from waitlist_tui.domain.fill.finder import Found
from waitlist_tui.domain.fill.offers import OfferView
from waitlist_tui.domain.fill.openings import AppointmentView
from waitlist_tui.domain.quickdates import long_date
from waitlist_tui.domain.textinput import printable
from waitlist_tui.tui.screens.dialogs import ConfirmDialog
from waitlist_tui.tui.screens.finder_rows import slot_label


def confirm_cancel(view: AppointmentView, zone: ZoneInfo) -> ConfirmDialog:
    start = view.starts_at.astimezone(zone)
    return ConfirmDialog(
        f"{printable(view.client_name)} cancels {start:%H:%M} with {view.provider_code}?",
        f"{view.service_code} · {long_date(start.date())}. The appointment is cancelled "
        "and its time offered from the waitlist.",
        yes="Cancel it and find candidates",
        no="Keep the booking",
    )


def confirm_outside_hours(found: Found, zone: ZoneInfo) -> ConfirmDialog:
    return ConfirmDialog(
        f"Offer {slot_label(found, zone)}?",
        f"The slot is outside the provider's hours: {found.outside_hours}.",
        yes="Offer it anyway",
        no="Don't offer",
    )


def offered_note(sent: list[OfferView], zone: ZoneInfo) -> tuple[str, bool]:
    """The toast after an offer, and whether a client must be phoned instead."""
    until = sent[0].expires_at.astimezone(zone)
    who = sent[0].client_name if len(sent) == 1 else f"{len(sent)} clients"
    phone = {v.phone_instead for v in sent if v.phone_instead}
    note = f"Offered to {who}; reply by {until:%a %H:%M}" + "".join(
        f" · {reason}" for reason in sorted(phone)
    )
    return note, bool(phone)
