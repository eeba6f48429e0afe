"""Stories the demo plays through the domain after its bulk build, so that `waitlist-tui demo`
shows what the generated history cannot: a knock-on chain (clients who held a later
appointment take an earlier slot, and the time each gives back goes to the next), and a clear
gap in the calendar that `stats demand` names (clients who want Dr Kim on Saturday mornings,
when she does not work).

Everything here goes through the ordinary service functions (adding, booking, offer_slot,
offers.accept): the same rules, transactions and audit rows as a desk. Only new clients and
entries are added; the generated history is left as it was. The build itself (and the tests'
snapshots of it) does not run these: `demo` does, after building.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import DomainError
from waitlist_tui.domain.fill import booking, offers
from waitlist_tui.domain.fill.slot import Slot
from waitlist_tui.domain.fill.slot_offers import offer_slot, slots_for_entry
from waitlist_tui.domain.stats.chains import knock_on_chains
from waitlist_tui.domain.waitlist import adding, changes

# (first, last, phone): the chain's three clients, then those who want Saturday mornings
CHAIN = (
    ("Rosa", "Delgado", "+16175550901"),
    ("Tomas", "Berg", "+16175550902"),
    ("Nadia", "Farouk", "+16175550903"),
)
SATURDAY = (
    ("Iris", "Moreau", "+16175550911"),
    ("Kenji", "Sato", "+16175550912"),
    ("Lena", "Novak", "+16175550913"),
    ("Omar", "Haddad", "+16175550914"),
    ("Pia", "Lind", "+16175550915"),
)
SERVICE = "PT-FU"


def _entry(actor: str, who: tuple[str, str, str], **prefs: Any) -> Any:
    first, last, phone = who
    clinic = get_clinic()
    today = clock.today(clinic.time_zone)
    payload = {
        "client": {"first_name": first, "last_name": last, "phone": phone},
        "service": SERVICE,
        "payment_type": "SELF_PAY",
        "date_range_start": (today + dt.timedelta(days=1)).isoformat(),
        "date_range_end": (today + dt.timedelta(days=clinic.max_span_days)).isoformat(),
        "priority": 2,
        "notes": "demo story",
        **prefs,
    }
    return adding.create(payload, actor)


def _local(at: dt.datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def knock_on_story(actor: str) -> dict[str, Any]:
    """Three clients: Rosa and Tomas each hold a later appointment. An early slot goes to
    Rosa; her later time is released and goes to Tomas; his goes to Nadia. Returns the
    chains' totals (stats.chains)."""
    clinic = get_clinic()
    rosa, tomas, nadia = (_entry(actor, who) for who in CHAIN)
    free = [
        (group.provider_id, group.provider_code, start, end)
        for group in slots_for_entry(rosa.id, limit=400)
        for start, end in group.slots
    ]
    if len(free) < 12:
        return {"moved_up": 0, "chains": 0}
    free.sort(key=lambda slot: slot[2])
    early, rosa_later, tomas_later = free[0], free[len(free) // 2], free[-1]
    for entry, (_, provider, start, _) in ((rosa, rosa_later), (tomas, tomas_later)):
        held = booking.add_appointment(
            clinic, str(entry.client.id), provider, SERVICE, _local(start, clinic.time_zone), actor
        )
        changes.update(entry.id, {"original_appointment_at": held.starts_at.isoformat()}, actor)
    provider_id, _, start, end = early
    service_id = rosa.service.id
    slot = Slot(uuid.UUID(str(provider_id)), start, end, service_id)
    sent = offer_slot(slot, actor, entry_id=rosa.id)
    reply = offers.accept(sent[0].id, actor)
    for nxt in (tomas, nadia):
        if reply.knock_on is None or reply.knock_on.opening_id is None:
            break
        sent = offers.offer(reply.knock_on.opening_id, actor, entry_id=nxt.id)
        reply = offers.accept(sent[0].id, actor)
    found = knock_on_chains(clinic)
    return {"moved_up": found.moved_up, "chains": len(found.chains)}


def saturday_story(actor: str) -> int:
    """Clients who want Dr Kim on Saturday mornings (she does not work Saturdays): a gap
    `stats demand` names. Returns the entries added."""
    for who in SATURDAY:
        _entry(
            actor,
            who,
            preferred_providers=["KIM"],
            preferred_days=["SATURDAY"],
            preferred_time_slots=["MORNING"],
        )
    return len(SATURDAY)


def add_stories(actor: str) -> dict[str, Any]:
    """Both stories; one that the day's calendar cannot play (no free time) is left out."""
    told: dict[str, Any] = {}
    try:
        told["knock_on"] = knock_on_story(actor)
    except DomainError as err:
        told["knock_on"] = {"error": err.message}
    try:
        told["saturday_entries"] = saturday_story(actor)
    except DomainError as err:
        told["saturday_entries"] = {"error": err.message}
    return told
