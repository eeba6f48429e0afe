"""Import and export of entries as CSV or JSON.

Export streams in id order a chunk at a time, so a million rows never sit in memory. Import
runs every row through entries.create inside one transaction (a savepoint per row): either all
rows go in, or with skip_invalid the good ones do; each bad row is reported by number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from waitlist_tui.domain import entries
from waitlist_tui.domain.clinics import get_clinic
from waitlist_tui.domain.db import database
from waitlist_tui.domain.entry_views import EntryView
from waitlist_tui.domain.errors import DomainError, ValidationError
from waitlist_tui.domain.models import Entry

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
    "created_at",
)
LIST_COLUMNS = ("preferred_providers", "preferred_days", "preferred_time_slots")
CLIENT_COLUMNS = ("first_name", "last_name", "phone", "email")
# Read on import (a blank cell or no column: the clinic's consent default), not exported.
CONSENT_COLUMNS = ("consent_sms", "consent_email")
IMPORTABLE_STATUSES = ("", "waiting", "active")
CHUNK = 2000


def iter_entries(statuses: tuple[str, ...] = ()) -> Iterator[EntryView]:
    clinic = get_clinic()
    last = None
    while True:
        query = entries._joined().where(Entry.clinic == clinic)
        if statuses:
            query = query.where(Entry.status.in_(list(statuses)))
        if last is not None:
            query = query.where(Entry.id > last)
        chunk = list(query.order_by(Entry.id).limit(CHUNK))
        if not chunk:
            return
        yield from entries._views(chunk)
        last = chunk[-1].id


def csv_row(view: EntryView) -> dict[str, Any]:
    d = view.to_dict()
    row = {k: d.get(k) for k in CSV_COLUMNS}
    row.update({k: d["client"][k] for k in CLIENT_COLUMNS})
    row["service"] = d["service"]["code"]
    for key in LIST_COLUMNS:
        row[key] = " ".join(d[key])
    return {k: "" if v is None else v for k, v in row.items()}


def export(out: IO[str], fmt: str, statuses: tuple[str, ...] = ()) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for view in iter_entries(statuses):
            writer.writerow(csv_row(view))
            count += 1
        return count
    if fmt != "json":
        raise ValidationError("format must be csv or json", field="format")
    out.write("[")
    for view in iter_entries(statuses):
        out.write(("," if count else "") + "\n" + json.dumps(view.to_dict(), ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def payload_from_csv(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as an entry payload; blank cells are left out so defaults apply."""
    unknown = [k for k in row if k not in CSV_COLUMNS + CONSENT_COLUMNS and k is not None]
    if unknown:
        raise ValidationError(f"unknown column {unknown[0]!r}", field=unknown[0])
    if None in row:
        raise ValidationError("the row has more cells than the header", field="row")
    cells = {k: (v or "").strip() for k, v in row.items()}
    status = cells.pop("status", "").lower()
    if status not in IMPORTABLE_STATUSES:
        raise ValidationError(
            f"status: only waiting entries can be imported (found {status})", field="status"
        )
    payload: dict[str, Any] = {"client": {k: cells.pop(k) or None for k in CLIENT_COLUMNS}}
    for key in CONSENT_COLUMNS:
        if cells.get(key, ""):
            payload["client"][key] = cells[key]  # read strictly by clients.parse_client
        cells.pop(key, None)
    for key in ("id", "created_at"):
        cells.pop(key, None)
    for key, value in cells.items():
        if value == "":
            continue
        payload[key] = value.split() if key in LIST_COLUMNS else value
    return payload


def read_rows(path: str | Path) -> list[tuple[int, str, Any]]:
    """(row number as the user sees it, "csv" or "json", raw row). CSV rows count the header
    as row 1, as a spreadsheet does; JSON items count from 1."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", field="file") from exc
    if file.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path} is not valid JSON: {exc}", field="file") from exc
        items = data if isinstance(data, list) else [data]
        return [(i, "json", item) for i, item in enumerate(items, start=1)]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "service" not in reader.fieldnames:
        raise ValidationError(
            f"{path}: the CSV header must name the columns ({', '.join(CSV_COLUMNS)})",
            field="file",
        )
    return [(i, "csv", row) for i, row in enumerate(reader, start=2)]


def payload_from_json(item: Any) -> Any:
    """An exported entry (or a hand-written one) as a create payload."""
    if not isinstance(item, dict):
        return item
    status = str(item.get("status") or "").lower()
    if status not in IMPORTABLE_STATUSES:
        raise ValidationError(
            f"status: only waiting entries can be imported (found {status})", field="status"
        )
    # An export carries client details and client_id; the details travel between databases.
    drop = {"status", "client_id"} if item.get("client") else {"status"}
    payload = {k: v for k, v in item.items() if k not in drop}
    if isinstance(payload.get("service"), dict):
        payload["service"] = payload["service"].get("code")
    return payload


def import_file(path: str | Path, actor: str, skip_invalid: bool = False) -> dict[str, Any]:
    rows = read_rows(path)
    clinic = get_clinic()
    errors: list[dict[str, Any]] = []
    imported: list[str] = []
    with database.atomic():
        for number, kind, item in rows:
            try:
                with database.atomic():  # a savepoint: a bad row leaves nothing behind
                    payload = payload_from_csv(item) if kind == "csv" else payload_from_json(item)
                    imported.append(str(entries.create(payload, actor, clinic).id))
            except DomainError as err:
                errors.append({"row": number, "field": err.field, "message": err.message})
        if errors and not skip_invalid:  # raising inside the block rolls every row back
            raise ValidationError(
                f"{len(errors)} of {len(rows)} rows are invalid; nothing was imported "
                "(fix them, or use --skip-invalid to import the valid rows)",
                field="file",
                data={"errors": errors},
            )
    return {
        "imported": len(imported),
        "skipped": len(errors),
        "rows": len(rows),
        "ids": imported,
        "errors": errors,
    }
