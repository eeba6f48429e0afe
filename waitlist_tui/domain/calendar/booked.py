"""The appointments the waitlist booked for a provider, as the export writes them."""

from __future__ import annotations

from waitlist_tui.domain.calendar.export import Booked, calendar_bytes
from waitlist_tui.domain.fill.openings import provider_by_code
from waitlist_tui.domain.store.models import Appointment, Client, Clinic, Service


def export_provider(clinic: Clinic, provider_code: str) -> tuple[bytes, int]:
    """The provider's waitlist bookings (an appointment with an entry), cancelled ones kept
    so that the other side removes them; the file's bytes and how many events it holds."""
    provider = provider_by_code(clinic, provider_code)
    rows = (
        Appointment.select(Appointment, Client, Service)
        .join(Client)
        .switch(Appointment)
        .join(Service)
        .where(Appointment.provider == provider, Appointment.entry.is_null(False))
        .order_by(Appointment.starts_at, Appointment.id)
    )
    booked = [
        Booked(
            id=str(a.id),
            provider_code=provider.code,
            provider_name=provider.name,
            service_name=a.service.name,
            client_name=f"{a.client.first_name} {a.client.last_name}",
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            cancelled=a.status == "cancelled",
            version=a.version,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )
        for a in rows
    ]
    return calendar_bytes(provider.name, clinic.time_zone, booked), len(booked)
