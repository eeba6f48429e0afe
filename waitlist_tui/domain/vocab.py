"""The enumerations of the domain and their compact storage (bit masks for days and parts of day,
so that matching can prefilter in SQL)."""

from __future__ import annotations

from collections.abc import Iterable

# Entry life cycle (DESIGN.md section 3): lowercase words in code, JSON and screens.
WAITING, OFFERED, BOOKED, CANCELLED, EXPIRED = (
    "waiting",
    "offered",
    "booked",
    "cancelled",
    "expired",
)
# A client's own request from the /join page until their phone is confirmed: on no queue's
# default view, in no stats, never matched or offered (domain/waitlist/self_join.py).
PENDING = "pending"
ENTRY_STATUSES = (WAITING, OFFERED, BOOKED, CANCELLED, EXPIRED, PENDING)
# The statuses the stats count (a pending request is not on the waitlist yet).
COUNTED_STATUSES = (WAITING, OFFERED, BOOKED, CANCELLED, EXPIRED)
ACTIVE_STATUSES = (WAITING, OFFERED)
CLOSED_STATUSES = (BOOKED, CANCELLED, EXPIRED)
# API-style names map onto ours.
API_STATUS = {
    "ACTIVE": ACTIVE_STATUSES,
    "FULFILLED": (BOOKED,),
    "CANCELLED": (CANCELLED,),
    "EXPIRED": (EXPIRED,),
}

OFFER_SENT, OFFER_ACCEPTED, OFFER_DECLINED = "sent", "accepted", "declined"
OFFER_EXPIRED, OFFER_RESCINDED = "expired", "rescinded"
OFFER_STATUSES = (OFFER_SENT, OFFER_ACCEPTED, OFFER_DECLINED, OFFER_EXPIRED, OFFER_RESCINDED)

OPENING_OPEN, OPENING_FILLED, OPENING_CLOSED = "open", "filled", "closed"
APPT_BOOKED, APPT_CANCELLED, APPT_COMPLETED = "booked", "cancelled", "completed"

SEQUENTIAL, BROADCAST = "SEQUENTIAL", "BROADCAST"
WORKFLOWS = (SEQUENTIAL, BROADCAST)

EXACT, PARTIAL = "EXACT", "PARTIAL"

SELF_PAY, INSURANCE_PAY = "SELF_PAY", "INSURANCE_PAY"
PAYMENT_TYPES = (SELF_PAY, INSURANCE_PAY)

INITIAL_EVAL, FOLLOW_UP = "INITIAL_EVAL", "FOLLOW_UP"
APPOINTMENT_TYPES = (INITIAL_EVAL, FOLLOW_UP)
APPOINTMENT_TYPE_LABELS = {
    "INITIAL_EVAL": INITIAL_EVAL,
    "INITIAL EVALUATION": INITIAL_EVAL,
    "FOLLOW_UP": FOLLOW_UP,
    "FOLLOW UP": FOLLOW_UP,
}

# Monday first, as a week reads on a clinic's calendar; bit i = DAYS[i].
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
DAY_SHORT = {
    "MONDAY": "Mon",
    "TUESDAY": "Tue",
    "WEDNESDAY": "Wed",
    "THURSDAY": "Thu",
    "FRIDAY": "Fri",
    "SATURDAY": "Sat",
    "SUNDAY": "Sun",
}
# The 0-6 form of some APIs counts from Sunday.
SUNDAY_FIRST = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")

TIME_SLOTS = ("MORNING", "AFTERNOON", "EVENING", "ANYTIME")
SLOT_SHORT = {"MORNING": "AM", "AFTERNOON": "PM", "EVENING": "Eve", "ANYTIME": "Any"}
DEFAULT_PARTS_OF_DAY = {
    "MORNING": ["07:00", "12:00"],
    "AFTERNOON": ["12:00", "17:00"],
    "EVENING": ["17:00", "21:00"],
}


def to_mask(values: Iterable[str], universe: tuple[str, ...]) -> int:
    mask = 0
    for value in values:
        mask |= 1 << universe.index(value)
    return mask


def from_mask(mask: int | None, universe: tuple[str, ...]) -> list[str]:
    if not mask:
        return []
    return [name for i, name in enumerate(universe) if mask & (1 << i)]


def day_bit(day_name: str) -> int:
    return 1 << DAYS.index(day_name)
