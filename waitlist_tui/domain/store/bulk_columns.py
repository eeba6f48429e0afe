"""The column order in which bulk writers (the demo build, the import) hand rows over.

Both write tuples straight into the tables (executemany, COPY); one list per table, so a
column added to a model is added here once, and tests/domain/test_bulk_columns.py fails
until it is.
"""

from __future__ import annotations

ENTRY_COLUMNS = (
    "id",
    "clinic_id",
    "client_id",
    "service_id",
    "status",
    "priority",
    "payment_type",
    "appointment_type",
    "preferred_days",
    "preferred_time_slots",
    "preferred_time_start",
    "preferred_time_end",
    "date_range_start",
    "date_range_end",
    "notes",
    "expires_at",
    "original_appointment_at",
    "created_at",
    "updated_at",
    "status_changed_at",
    "booked_at",
    "created_by",
    "updated_by",
    "version",
)

CLIENT_COLUMNS = (
    "id",
    "clinic_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "consent_sms",
    "consent_email",
    "search",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
)
AUDIT_COLUMNS = ("at", "actor", "action", "object_type", "object_id", "changes")
# Columns the bulk rows leave out, for the database's default (DDL DEFAULT): an entry is not
# self-joined when the demo or an import writes it. provider_ids and ever_offered are kept by
# triggers (store/demand_columns.py), and filled after a load with the triggers off.
ENTRY_DEFAULTED = ("self_joined", "keep_later_appointment", "provider_ids", "ever_offered")
