"""Reading an entry payload (create or PATCH) into checked values; every error names its field.

Only syntax and per-field rules live here; rules that need the database (the clinic's span,
services, providers, clients) are applied in refs.py, adding.py and changes.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.flags import parse_bool
from waitlist_tui.domain.memo import per_text, per_texts
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import parse_date, parse_hhmm, parse_instant

INPUT_FIELDS = (
    "client",
    "client_id",
    "service",
    "preferred_providers",
    "preferred_days",
    "preferred_time_slots",
    "preferred_time_start",
    "preferred_time_end",
    "date_range_start",
    "date_range_end",
    "appointment_type",
    "payment_type",
    "priority",
    "notes",
    "expires_at",
    "original_appointment_at",
    "keep_later_appointment",
)
ALIASES = {
    "service_id": "service",
    "appointment_category_id": "service",
    "patient_id": "client_id",
    "preferred_date_start": "date_range_start",
    "preferred_date_end": "date_range_end",
}
UPDATE_ONLY = ("status", "version")
# Fields of the entry JSON *out*; accepted and ignored on the way in so an export re-imports.
OUTPUT_ONLY = (
    "id",
    "clinic_id",
    "appointment_duration",
    "created_at",
    "created_at_epoch_ms",
    "self_joined",
    "updated_at",
    "created_by",
    "updated_by",
    "preferred_provider_details",
    "appointment_category",
    "status_changed_at",
    "booked_at",
    "matched_invites",
    "matched_waitlists",
)
_CREATE_KEYS = frozenset(INPUT_FIELDS)
_PATCH_KEYS = frozenset(INPUT_FIELDS + UPDATE_ONLY)
_OUTPUT_KEYS = frozenset(OUTPUT_ONLY)
_CREATE_SKIPPED = frozenset(OUTPUT_ONLY + UPDATE_ONLY)
MAX_NOTES = 2000
MAX_REF = 64  # a service or provider code, or an id


def _word(value: Any, field: str) -> str:
    """An enumerated value (a type, a status): text, never a list or a number."""
    if isinstance(value, str):
        return text_value(value, field, max_len=MAX_REF)
    raise ValidationError(f"{field} must be text, got {type(value).__name__}", field=field)


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(";", ",").replace(" ", ",").split(",") if v]
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{field} must be a list", field=field)
    return list(value)


@per_texts
def parse_days(value: Any) -> int:
    """MONDAY..SUNDAY (any case, or Mon..Sun), or 0-6 with 0 = Sunday, as a bit mask."""
    names = []
    for item in _list(value, "preferred_days"):
        if isinstance(item, bool):
            raise ValidationError(
                "preferred_days holds day names or numbers 0-6", field="preferred_days"
            )
        if isinstance(item, int) or (
            isinstance(item, str)
            and item.strip().isascii()
            and item.strip().isdigit()
            and len(item.strip()) <= 3
        ):
            number = int(item)
            if not 0 <= number <= 6:
                raise ValidationError(
                    f"preferred_days: {item} is not 0-6 (0 = Sunday)", field="preferred_days"
                )
            names.append(vocab.SUNDAY_FIRST[number])
            continue
        text = _word(item, "preferred_days").upper()
        match = [d for d in vocab.DAYS if d == text or (len(text) >= 3 and d.startswith(text))]
        if len(match) != 1:
            raise ValidationError(
                f"preferred_days: {item!r} is not a day (MONDAY..SUNDAY)", field="preferred_days"
            )
        names.append(match[0])
    return vocab.to_mask(names, vocab.DAYS)


@per_texts
def parse_time_slots(value: Any) -> int:
    names = []
    for item in _list(value, "preferred_time_slots"):
        text = _word(item, "preferred_time_slots").upper()
        if text not in vocab.TIME_SLOTS:
            raise ValidationError(
                f"preferred_time_slots: {item!r} is not one of MORNING, "
                "AFTERNOON, EVENING, ANYTIME",
                field="preferred_time_slots",
            )
        names.append(text)
    return vocab.to_mask(names, vocab.TIME_SLOTS)


@per_text
def parse_appointment_type(value: Any) -> str:
    text = " ".join(_word(value, "appointment_type").upper().replace("-", " ").split())
    if text not in vocab.APPOINTMENT_TYPE_LABELS:
        raise ValidationError(
            "appointment_type must be Initial Evaluation, Follow Up, "
            f"INITIAL_EVAL or FOLLOW_UP, got {value!r}",
            field="appointment_type",
        )
    return vocab.APPOINTMENT_TYPE_LABELS[text]


@per_text
def parse_payment_type(value: Any) -> str:
    text = _word(value or "", "payment_type").upper().replace(" ", "_").replace("-", "_")
    if text not in vocab.PAYMENT_TYPES:
        raise ValidationError(
            "payment_type must be SELF_PAY or INSURANCE_PAY", field="payment_type"
        )
    return text


@per_text
def parse_priority(value: Any) -> int:
    number = None
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            number = int(value)
        except ValueError:
            number = None
    if number is None or not 1 <= number <= 5:
        raise ValidationError(
            f"priority must be a whole number 1-5 (1 most urgent), got {value!r}", field="priority"
        )
    return number


def parse_status(value: Any) -> str:
    """API names (ACTIVE, FULFILLED, CANCELLED, EXPIRED) or ours (waiting ... expired)."""
    text = _word(value or "", "status")
    if text.upper() in vocab.API_STATUS:
        return text.upper()
    if text.lower() in vocab.ENTRY_STATUSES:
        return text.lower()
    raise ValidationError(
        f"status {value!r} is not one of ACTIVE, FULFILLED, CANCELLED, EXPIRED", field="status"
    )


def normalize_keys(payload: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError("an entry must be a JSON object", field="entry")
    out: dict[str, Any] = {}
    allowed, skipped = (_PATCH_KEYS, _OUTPUT_KEYS) if partial else (_CREATE_KEYS, _CREATE_SKIPPED)
    for key, value in payload.items():
        key = ALIASES.get(key, key)
        if key in skipped:
            continue
        if key not in allowed:
            raise ValidationError(f"{key} is not a field of a waitlist entry", field=key)
        out[key] = value
    return out


def parse_fields(data: dict[str, Any], tz: str) -> dict[str, Any]:
    """Check the per-field rules of whatever keys are present; returns storable values."""
    out: dict[str, Any] = {}
    if "preferred_days" in data:
        out["preferred_days"] = parse_days(data["preferred_days"])
    if "preferred_time_slots" in data:
        out["preferred_time_slots"] = parse_time_slots(data["preferred_time_slots"])
    for key in ("preferred_time_start", "preferred_time_end"):
        if key in data:
            value = data[key]
            out[key] = None if value in (None, "") else parse_hhmm(value, key)
    for key in ("date_range_start", "date_range_end"):
        if key in data and data[key] not in (None, ""):
            out[key] = parse_date(data[key], key)
    if data.get("appointment_type") not in (None, ""):
        out["appointment_type"] = parse_appointment_type(data["appointment_type"])
    if "payment_type" in data:
        out["payment_type"] = parse_payment_type(data["payment_type"])
    if "priority" in data and data["priority"] is not None:
        out["priority"] = parse_priority(data["priority"])
    if "notes" in data:
        out["notes"] = text_value(data["notes"], "notes", max_len=MAX_NOTES, multiline=True)
    for key in ("service", "client_id"):
        if data.get(key) is not None:
            text_value(data[key], key, max_len=MAX_REF)
    for key in ("expires_at", "original_appointment_at"):
        if key in data:
            out[key] = None if data[key] in (None, "") else parse_instant(data[key], tz, key)
    if "keep_later_appointment" in data:  # schema v18: no knock-on release (fill/knock_on.py)
        value = data["keep_later_appointment"]
        out["keep_later_appointment"] = (
            False if value in (None, "") else parse_bool(value, "keep_later_appointment")
        )
    if "status" in data:
        out["status"] = parse_status(data["status"])
    if "version" in data and data["version"] is not None:
        version = data["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValidationError(
                "version must be the whole number the entry was read at", field="version"
            )
        out["version"] = version
    return out


def check_window(start: int | None, end: int | None) -> None:
    if (start is None) != (end is None):
        missing = "preferred_time_end" if end is None else "preferred_time_start"
        raise ValidationError(f"{missing} is required when a time window is given", field=missing)
    if start is not None and end is not None and start >= end:
        raise ValidationError(
            "preferred_time_start must be before preferred_time_end", field="preferred_time_start"
        )


def check_range(start: dt.date, end: dt.date, max_span_days: int) -> None:
    if end < start:
        raise ValidationError(
            "date_range_end must be on or after date_range_start", field="date_range_end"
        )
    span = (end - start).days
    if span > max_span_days:
        raise ValidationError(
            f"date range spans {span} days; this clinic allows at most {max_span_days} days "
            "(max_span_days)",
            field="date_range_end",
        )
