"""What the waitlist booked, as an iCalendar file the clinic's system can import or subscribe to.

Each appointment keeps one UID for life, so a re-import updates rather than duplicates; its
SEQUENCE is the row's version (bumped by every change), and a withdrawn booking stays in the
file as STATUS:CANCELLED so that the other side removes it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

PRODID = "-//waitlist-tui//calendar export//EN"
UID_DOMAIN = "waitlist-tui"


@dataclass(frozen=True)
class Booked:
    """One appointment as the export writes it."""

    id: str
    provider_code: str
    provider_name: str
    service_name: str
    client_name: str
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime
    cancelled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def uid_of(appointment_id: str) -> str:
    return f"{appointment_id}@{UID_DOMAIN}"


def calendar_bytes(name: str, zone: str, booked: Iterable[Booked]) -> bytes:
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone)
    for one in booked:
        event = icalendar.Event()
        event.add("uid", uid_of(one.id))
        event.add("dtstamp", one.updated_at.astimezone(dt.UTC))
        event.add("created", one.created_at.astimezone(dt.UTC))
        event.add("last-modified", one.updated_at.astimezone(dt.UTC))
        event.add("sequence", max(0, one.version - 1))
        event.add("dtstart", one.starts_at.astimezone(dt.UTC))
        event.add("dtend", one.ends_at.astimezone(dt.UTC))
        event.add("summary", f"{one.service_name} - {one.client_name}")
        event.add("status", "CANCELLED" if one.cancelled else "CONFIRMED")
        if not one.cancelled:
            event.add("transp", "OPAQUE")
        event.add("categories", [one.service_name])
        event.add("x-waitlist-provider", one.provider_code)
        calendar.add_component(event)
    return bytes(calendar.to_ical())
