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
    booked = [_booked(a, provider.code, provider.name) for a in rows if a.client and a.service]
    return calendar_bytes(provider.name, clinic.time_zone, booked), len(booked)


def _booked(a: Appointment, code: str, name: str) -> Booked:
    client, service = a.client, a.service
    assert client is not None and service is not None  # a waitlist booking has both
    return Booked(
        id=str(a.id),
        provider_code=code,
        provider_name=name,
        service_name=service.name,
        client_name=f"{client.first_name} {client.last_name}",
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        cancelled=a.status == "cancelled",
        version=a.version,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )
