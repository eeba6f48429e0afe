"""The words of the classes wing: enrolment and instance statuses, the clinic's waitlist
modes, and the messages every class command shares (the CLI and the replies compare them)."""

from __future__ import annotations

# Enrolment statuses.
ENROLLED, WAITLISTED, OFFERED, CANCELLED = "enrolled", "waitlisted", "offered", "cancelled"
ENROLMENT_STATUSES = (ENROLLED, WAITLISTED, OFFERED, CANCELLED)
OPEN_STATUSES = (ENROLLED, WAITLISTED, OFFERED)
SEAT_STATUSES = (ENROLLED, OFFERED)  # these take a seat

# Instance statuses.
SCHEDULED, INSTANCE_CANCELLED, COMPLETED = "scheduled", "cancelled", "completed"

# Clinic.event_waitlist_mode.
MODE_ENROLL, MODE_OFFER = "enroll", "offer"

INVALID_INSTANCE = "Invalid event instance"
NOT_FOUND = "enrolment not found"
CLOSED = "enrolment is closed"
FULL = "class is full: join its waitlist"
CHANGED = "enrolment was changed by someone else; reload it and try again"
MAX_PAGE = 500
