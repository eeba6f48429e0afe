"""Import and export of entries as CSV or JSON.

Export streams in id order a chunk at a time, so a million rows never sit in memory. It
carries what a desk or the ranking depends on: the entry's id, client id, status, and its
times to the microsecond (created_at ranks the queue; "waited" counts from it).

Import checks every row first and reports each bad one by number and field, all at once;
then it writes in bulk in one transaction (importing.py): either all rows go in, or with
skip_invalid the good ones do. A row
keeps its exported id, client id, created_at and status, so a file re-imported is idempotent:
an entry already present (by id) is skipped, or with on_existing="update" has its editable
fields updated, never duplicated. An exported "offered" entry arrives as waiting: its offer
did not travel with it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.store.models import Clinic, Entry
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import parse_instant
from waitlist_tui.domain.waitlist import adding, changes, importing, reading
from waitlist_tui.domain.waitlist.entry_input import INPUT_FIELDS
from waitlist_tui.domain.waitlist.views import EntryView

CSV_COLUMNS = (
    "id",
    "status",
    "first_name",
    "last_name",
    "phone",
    "email",
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
    "keep_later_appointment",
    "created_at",
    # What an import restores besides the payload (the ranking, the history, who did it).
    "client_id",
    "original_appointment_at",
    "status_changed_at",
    "booked_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
)
LIST_COLUMNS = ("preferred_providers", "preferred_days", "preferred_time_slots")
CLIENT_COLUMNS = ("first_name", "last_name", "phone", "email")
# Read on import (a blank cell or no column: the clinic's consent default), not exported.
CONSENT_COLUMNS = ("consent_sms", "consent_email")
# Kept from a row as it was exported, not read as the entry's payload.
KEPT = (
    "id",
    "status",
    "client_id",
    "created_at",
    "status_changed_at",
    "booked_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
)
INSTANTS = (
    "expires_at",
    "original_appointment_at",
    "created_at",
    "status_changed_at",
    "booked_at",
    "updated_at",
)
ON_EXISTING = ("skip", "update")
# A file's status in our words (the API's names too); offered arrives as waiting.
IMPORT_STATUS = {
    **{s: s for s in vocab.ENTRY_STATUSES},
    "active": vocab.WAITING,
    "fulfilled": vocab.BOOKED,
}
EDITABLE = tuple(f for f in INPUT_FIELDS if f not in ("client", "client_id"))
MAX_ACTOR = 120
CHUNK = 2000


def iter_entries(statuses: tuple[str, ...] = ()) -> Iterator[EntryView]:
    clinic = get_clinic()
    last: uuid.UUID | None = None
    while True:
        query = reading.joined().where(Entry.clinic == clinic)
        if statuses:
            query = query.where(Entry.status.in_(list(statuses)))
        if last is not None:
            query = query.where(Entry.id > last)
        chunk = list(query.order_by(Entry.id).limit(CHUNK))
        if not chunk:
            return
        yield from reading.views_of(chunk)
        last = chunk[-1].id


def precise(value: dt.datetime | None) -> str | None:
    """UTC with Z, to the microsecond when there is one: entries made in one second keep
    their order (the JSON elsewhere shows whole seconds)."""
    if value is None:
        return None
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def exported(view: EntryView) -> dict[str, Any]:
    """An entry as the export writes it (JSON): its view, with times to the microsecond."""
    d = view.to_dict()
    for key in INSTANTS:
        d[key] = precise(getattr(view, key))
    return d


def csv_row(view: EntryView) -> dict[str, Any]:
    d = exported(view)
    row = {k: d.get(k) for k in CSV_COLUMNS}
    row.update({k: d["client"][k] for k in CLIENT_COLUMNS})
    row["service"] = d["service"]["code"]
    for key in LIST_COLUMNS:
        row[key] = " ".join(d[key])
    return {k: "" if v is None else v for k, v in row.items()}


def count_entries(statuses: tuple[str, ...] = ()) -> int:
    """How many entries an export of these statuses writes (for its progress bar)."""
    query = Entry.select().where(Entry.clinic == get_clinic())
    if statuses:
        query = query.where(Entry.status.in_(list(statuses)))
    total: int = query.count()
    return total


def export(
    out: IO[str],
    fmt: str,
    statuses: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the entries; `progress` is told the count so far every CHUNK entries."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for view in iter_entries(statuses):
            writer.writerow(csv_row(view))
            count += 1
            if progress is not None and count % CHUNK == 0:
                progress(count)
    else:
        if fmt != "json":
            raise ValidationError("format must be csv or json", field="format")
        out.write("[")
        for view in iter_entries(statuses):
            out.write(
                ("," if count else "") + "\n" + json.dumps(exported(view), ensure_ascii=False)
            )
            count += 1
            if progress is not None and count % CHUNK == 0:
                progress(count)
        out.write("\n]\n")
    if progress is not None:
        progress(count)
    return count


# --- reading a file ---------------------------------------------------------------------------


_READ_COLUMNS = frozenset(CSV_COLUMNS + CONSENT_COLUMNS)  # a set: asked of every cell


def payload_from_csv(row: dict[str | None, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CSV row as (entry payload, kept values); blank cells are left out so defaults apply,
    and a column the file does not have reads as blank."""
    unknown = [k for k in row if k not in _READ_COLUMNS and k is not None]
    if unknown:
        raise ValidationError(f"unknown column {unknown[0]!r}", field=unknown[0])
    if None in row:
        raise ValidationError("the row has more cells than the header", field="row")
    cells = {str(k): (v or "").strip() for k, v in row.items()}
    kept = {k: cells.pop(k) for k in KEPT if cells.get(k)}
    for k in KEPT:
        cells.pop(k, None)
    client = {k: cells.pop(k, "") or None for k in CLIENT_COLUMNS}
    payload: dict[str, Any] = {}
    if any(client.values()):
        payload["client"] = client
    for key in CONSENT_COLUMNS:
        if cells.get(key, ""):
            payload.setdefault("client", client)[key] = cells[key]  # read strictly
        cells.pop(key, None)
    for key, value in cells.items():
        if value == "":
            continue
        payload[key] = value.split() if key in LIST_COLUMNS else value
    return payload, kept


def payload_from_json(item: Any) -> tuple[Any, dict[str, Any]]:
    """An exported entry (or a hand-written one) as (create payload, kept values)."""
    if not isinstance(item, dict):
        return item, {}
    payload = dict(item)
    kept = {k: payload.pop(k) for k in KEPT if payload.get(k) not in (None, "")}
    for k in KEPT:
        payload.pop(k, None)
    if isinstance(payload.get("service"), dict):
        payload["service"] = payload["service"].get("code")
    client = payload.get("client")
    if isinstance(client, dict) and "id" in client:
        kept.setdefault("client_id", client["id"])
        payload["client"] = {k: v for k, v in client.items() if k != "id"}
    return payload, kept


def check_header(path: str | Path, header: Any) -> None:
    """The columns an entry cannot do without; any other column may be left out."""
    if not header:
        raise ValidationError(
            f"{path}: the CSV header must name the columns ({', '.join(CSV_COLUMNS)})",
            field="file",
        )
    names = set(header)
    missing = [c for c in ("service",) if c not in names]  # payment: the clinic's default
    if "client_id" not in names:
        missing += [c for c in ("first_name", "last_name") if c not in names]
    if missing:
        raise ValidationError(
            f"{path}: the CSV header has no {missing[0]} column, and every entry needs one",
            field=missing[0],
        )


# --- importing one row ------------------------------------------------------------------------


def uuid_of(value: Any, field: str) -> uuid.UUID:
    text = text_value(value, field, max_len=64) if not isinstance(value, uuid.UUID) else value
    try:
        return text if isinstance(text, uuid.UUID) else uuid.UUID(text)
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not a UUID", field=field) from None


def _past(value: Any, field: str, tz: str, now: dt.datetime) -> dt.datetime:
    when = parse_instant(value, tz, field)
    if when > now:
        raise ValidationError(f"{field} is in the future ({precise(when)})", field=field)
    return when


def restored_of(kept: dict[str, Any], clinic: Clinic, actor: str) -> adding.Restored:
    """The kept values of a new row, checked: a 4000 names the field."""
    now: dt.datetime = clock.now()  # a pendulum DateTime, compared with plain datetimes
    tz = clinic.time_zone
    status_text = text_value(kept.get("status", vocab.WAITING), "status", max_len=16).lower()
    if status_text not in IMPORT_STATUS:
        raise ValidationError(
            f"status {kept.get('status')!r} is not one of {', '.join(vocab.ENTRY_STATUSES)}",
            field="status",
        )
    status = IMPORT_STATUS[status_text]
    created = _past(kept["created_at"], "created_at", tz, now) if "created_at" in kept else now
    if status == vocab.OFFERED:  # its offer is not in this file: it waits again from now
        status, changed = vocab.WAITING, now
    elif "status_changed_at" in kept:
        changed = _past(kept["status_changed_at"], "status_changed_at", tz, now)
    else:
        changed = created if status == vocab.WAITING else now
    booked = None
    if "booked_at" in kept:
        booked = _past(kept["booked_at"], "booked_at", tz, now)
    elif status == vocab.BOOKED:
        booked = changed
    updated = _past(kept["updated_at"], "updated_at", tz, now) if "updated_at" in kept else now
    for field, when in (
        ("status_changed_at", changed),
        ("booked_at", booked),
        ("updated_at", updated),
    ):
        if when is not None and when < created:
            raise ValidationError(f"{field} is before created_at", field=field)
    if booked is not None and status != vocab.BOOKED:
        raise ValidationError(f"booked_at is set but the status is {status}", field="booked_at")
    by = {}
    for field in ("created_by", "updated_by"):
        by[field] = text_value(kept.get(field), field, max_len=MAX_ACTOR) or actor
    version = kept.get("version", 1)
    if isinstance(version, str) and version.strip().isascii() and version.strip().isdigit():
        version = int(version.strip()) if len(version.strip()) <= 9 else None
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        raise ValidationError("version must be a whole number 1 or more", field="version")
    return adding.Restored(
        id=uuid_of(kept["id"], "id") if "id" in kept else uuid.uuid4(),
        status=status,
        created_at=created,
        status_changed_at=changed,
        updated_at=updated,
        booked_at=booked,
        version=version,
        **by,
    )


def update_existing(
    existing: Entry, payload: dict[str, Any], kept: dict[str, Any], actor: str
) -> str:
    """on_existing="update": the file's editable fields (and a cancel or expiry) as a PATCH.
    A closed entry is history and stays as it is."""
    if existing.status in vocab.CLOSED_STATUSES:
        return "skipped"
    patch = {k: v for k, v in payload.items() if k in EDITABLE}
    if "status" in kept:
        status = IMPORT_STATUS.get(
            text_value(kept["status"], "status", max_len=16).lower(), kept["status"]
        )
        if status in (vocab.CANCELLED, vocab.EXPIRED):
            patch["status"] = status
    _, changed = changes.change(existing.id, patch, actor)  # no view read back: one id kept
    return "updated" if changed else "skipped"


def not_our_client(client_id: uuid.UUID | None) -> ValidationError:
    return ValidationError(
        f"client_id {client_id} is not a client of this clinic (and the row has no "
        "first_name, last_name, phone or email to add them by)",
        field="client_id",
    )


def import_file(
    path: str | Path,
    actor: str,
    skip_invalid: bool = False,
    on_existing: str = "skip",
    progress: importing.Progress | None = None,
) -> dict[str, Any]:
    """Every row checked first (all errors at once, nothing written), then written in bulk in
    one transaction: importing.py. The counts say what each row did."""
    return importing.import_file(path, actor, skip_invalid, on_existing, progress)
