"""The project's own hostile-input fuzz (issue 14): generated hostile values (years 1 and
9999, NUL, Rich markup, control characters, wrong JSON types, deep nesting, very long
strings, any Unicode) in every field of every command's payload, on both backends.

Each call either is refused with a 4000 naming the field (for imports: the row too) and no
row changed, or is accepted and reads back equal. Any other outcome (a traceback, a 4000
naming some other field, a row written by a refused call) fails the property.

The dates below are the frozen clock's (Friday 2026-11-20, the `db` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import STAFF, entry_payload
from tests.domain.fill_helpers import add_entry
from tests.domain.hostile_helpers import row_counts
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.classes import schedule as event_schedule
from waitlist_tui.domain.errors import DomainError, ValidationError
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.messaging import replies
from waitlist_tui.domain.store.models import InboundMessage
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import adding, changes, exchange, reading
from waitlist_tui.domain.waitlist.entry_input import INPUT_FIELDS
from waitlist_tui.domain.waitlist.views import EntryView

FUZZ = settings(
    max_examples=int(os.environ.get("WAITLIST_FUZZ_EXAMPLES", "40")),  # more: a deeper hunt
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


_text = st.text(max_size=40)
hostile = st.one_of(
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "9999-12-31T23:59",
            "0001-01-01T00:00:00+05:00",
            "1899-12-31",
            "2101-01-01T00:00:00Z",
            "[bold]",
            "[/x]",
            "Ann [/b] [link=http://x]y[/link]",
            "\x1b[2J\x07",
            "\u202egnp.exe",
            "\ud800",
            "²",
            "",
            "   ",
        ]
    ),
    _text.map(lambda t: t[:5] + "\x00" + t[5:]),
    st.text(st.characters(codec=None, categories=["Cc", "Cf", "Zl", "Zp"]), max_size=8),
    _text,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(_text, max_size=3),
    st.dictionaries(_text, _text, max_size=2),
    st.integers(min_value=20, max_value=60).map(_nested),
    st.integers(min_value=3000, max_value=140_000).map(lambda n: "x" * n),
)

ENTRY_FIELDS = tuple(f for f in INPUT_FIELDS if f != "client")  # the payload's own fields
CLIENT_FIELDS = ("first_name", "last_name", "phone", "email")
# A value of one field may break a rule it shares with another (a start after the end).
RELATED = {
    "date_range_start": {"date_range_end"},
    "date_range_end": {"date_range_start"},
    "preferred_time_start": {"preferred_time_end"},
    "preferred_time_end": {"preferred_time_start"},
    "client_id": {"client"},
}


def _names(err: DomainError, field: str) -> None:
    allowed = {field} | RELATED.get(field, set())
    assert err.code == 4000, (err.code, err.message)
    assert err.field in allowed, (field, err.field, err.message)
    assert str(err.field).split(".")[-1] in err.message, err.message


def refused_or_accepted(call: Callable[[], Any], field: str) -> Any:
    """The call's result, or None when it was refused as the property allows."""
    before = row_counts()
    try:
        return call()
    except ValidationError as err:
        _names(err, field)
        assert row_counts() == before, f"{field}: a refused call wrote rows"
        return None


def _shown(view: EntryView) -> None:
    """What an accepted entry must still do: read back, print and serialise."""
    data = reading.get(view.id).to_dict()
    json.dumps(data, ensure_ascii=False)
    printable(data["notes"]), printable(view.client.name)


@FUZZ
@given(
    field=st.sampled_from(ENTRY_FIELDS + tuple(f"client.{f}" for f in CLIENT_FIELDS)), value=hostile
)
def test_entry_create_fuzz(clinic, field: str, value: Any) -> None:
    payload = entry_payload()
    if field.startswith("client."):
        payload["client"] = {**payload["client"], field.split(".")[1]: value}
    elif field == "client_id":
        payload = {k: v for k, v in payload.items() if k != "client"} | {"client_id": value}
    else:
        payload[field] = value
    view = refused_or_accepted(lambda: adding.create(payload, STAFF), field)
    if view is None:
        return
    _shown(view)
    if field == "notes":
        assert view.notes == (value or "").strip()
    if field in ("client.first_name", "client.last_name"):
        assert getattr(view.client, field.split(".")[1]) == " ".join(value.split())


@FUZZ
@given(field=st.sampled_from((*ENTRY_FIELDS, "status", "version")), value=hostile)
def test_entry_update_fuzz(clinic, field: str, value: Any) -> None:
    view = add_entry()
    if field == "client_id":
        field_expected, payload = "client_id", {"client_id": value}
    else:
        field_expected, payload = field, {field: value}
    try:
        updated = refused_or_accepted(
            lambda: changes.update(view.id, payload, STAFF), field_expected
        )
    except DomainError as err:  # the client cannot change; a status may close the entry
        assert err.code in (4000, 4090), err.message
        return
    if updated is None:
        assert reading.get(view.id).version == view.version
        return
    _shown(updated)
    if field == "notes":
        assert updated.notes == (value or "").strip()


def _opening_args(field: str, value: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"provider": "KIM", "start": "2026-11-30T09:00", "minutes": 60}
    args["service"] = None
    args[field] = value
    return args


@FUZZ
@given(field=st.sampled_from(["provider", "start", "minutes", "service"]), value=hostile)
def test_opening_add_fuzz(clinic, field: str, value: Any) -> None:
    args = _opening_args(field, value)
    try:
        opening = refused_or_accepted(
            lambda: add_opening(
                args["provider"], args["start"], args["minutes"], STAFF, service=args["service"]
            ),
            field,
        )
    except DomainError as err:  # an accepted start may clash with another opening: a 4090
        assert err.code == 4090, err.message
        return
    if opening is not None:
        assert opening.provider.code == "KIM"


@FUZZ
@given(field=st.sampled_from(["service", "start", "capacity", "provider"]), value=hostile)
def test_event_schedule_fuzz(clinic, field: str, value: Any) -> None:
    args: dict[str, Any] = {"service": "PILATES", "start": "2026-11-26T18:00", "capacity": 8}
    args["provider"] = None
    args[field] = value
    try:
        made = refused_or_accepted(
            lambda: event_schedule.schedule(
                args["service"], args["start"], args["capacity"], STAFF, args["provider"]
            ),
            field,
        )
    except DomainError as err:  # a second class at the same time for the same leader
        assert err.code == 4090, err.message
        return
    if made is not None:
        assert (
            made.capacity == args["capacity"] or str(made.capacity) == str(args["capacity"]).strip()
        )


IMPORT_FIELDS = (
    ENTRY_FIELDS[:1]
    + ENTRY_FIELDS[2:]
    + CLIENT_FIELDS
    + ("id", "status", "created_at", "client_id", "booked_at", "version")
)


def _write_import(tmp_path: Path, fmt: str, field: str, value: Any) -> Path:
    good = exchange_row()
    row = {**good, field: value}
    if fmt == "json":
        item = {k: v for k, v in row.items() if k not in CLIENT_FIELDS}
        item["client"] = {k: row[k] for k in CLIENT_FIELDS}
        path = tmp_path / "fuzz.json"
        path.write_text(
            json.dumps([entry_payload(), item], ensure_ascii=False, allow_nan=True),
            encoding="utf-8",
            errors="surrogatepass",
        )
        return path
    out = io.StringIO()
    # Every cell quoted: with "\n" as the line end the csv module leaves a bare "\r" in a
    # cell unquoted, which splits the row (a file no spreadsheet writes; the fuzz found it).
    writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    first = {**good, "first_name": "Zed", "phone": "617-555-0199"}
    writer.writerow(first)
    cell = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
    writer.writerow({**row, field: cell})
    path = tmp_path / "fuzz.csv"
    path.write_bytes(out.getvalue().encode("utf-8", errors="surrogatepass"))
    return path


def exchange_row() -> dict[str, Any]:
    return {
        "first_name": "Ann",
        "last_name": "Lee",
        "phone": "617-555-0142",
        "email": "ann@example.com",
        "service": "PT-EVAL",
        "payment_type": "SELF_PAY",
        "date_range_start": "2026-11-23",
        "date_range_end": "2026-12-15",
        "notes": "n",
    }


@FUZZ
@given(fmt=st.sampled_from(["csv", "json"]), field=st.sampled_from(IMPORT_FIELDS), value=hostile)
def test_import_row_fuzz(clinic, tmp_path_factory, fmt: str, field: str, value: Any) -> None:
    path = _write_import(tmp_path_factory.mktemp("fuzz"), fmt, field, value)
    before = row_counts()
    try:
        result = exchange.import_file(path, STAFF)
    except ValidationError as err:
        assert row_counts() == before
        if err.field == "file":  # the file as a whole: not UTF-8, too deep, a cell too big
            return
        expected = f"client.{field}" if field in CLIENT_FIELDS else field
        if field in CLIENT_FIELDS and err.field == "client.phone":  # no phone and no email
            expected = "client.phone"
        _names(err, expected)
        row = 3 if fmt == "csv" else 2  # the header is a spreadsheet's row 1
        assert err.message.startswith(f"row {row}:"), err.message
        return
    assert result["invalid"] == 0 and result["added"] + result["skipped"] == 2
    for entry_id in result["ids"]:
        _shown(reading.get(entry_id))


SETUP_PATHS = (
    ("clinic", "code"),
    ("clinic", "name"),
    ("clinic", "time_zone"),
    ("clinic", "region"),
    ("clinic", "waitlist_enabled"),
    ("clinic", "max_span_days"),
    ("clinic", "offer_hold_minutes"),
    ("clinic", "default_workflow"),
    ("clinic", "parts_of_day"),
    ("clinic", "parts_of_day", "MORNING"),
    ("services", 0, "code"),
    ("services", 0, "name"),
    ("services", 0, "duration_minutes"),
    ("services", 0, "appointment_type"),
    ("services", 0, "kind"),
    ("providers", 0, "name"),
    ("providers", 0, "services"),
    ("providers", 0, "hours"),
    ("providers", 0, "hours", "MONDAY"),
    ("providers", 0, "time_off"),
    ("messages", "quiet_hours"),
    ("messages", "max_offers_per_day"),
)


def _setup_field(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@FUZZ
@given(path=st.sampled_from(SETUP_PATHS), value=hostile)
def test_setup_toml_fuzz(db, path: tuple[Any, ...], value: Any) -> None:
    data = demo_clinic()
    target = data
    for part in path[:-1]:
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
    target[path[-1]] = value
    field = _setup_field(path)
    before = row_counts()
    try:
        apply_setup(data, STAFF)
    except ValidationError as err:
        assert row_counts() == before
        if path[-1] == "code" and path[0] == "services":  # a provider offers it by its code
            field = "providers" if str(err.field).startswith("providers") else field
        assert str(err.field).startswith(field) or field.startswith(str(err.field)), (
            field,
            err.field,
            err.message,
        )
        return


@FUZZ
@given(text=hostile, sender=st.one_of(st.just("617-555-0150"), hostile))
def test_sms_reply_fuzz(clinic, text: Any, sender: Any) -> None:
    add_entry(client={"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0150"})
    before = InboundMessage.select().count()
    try:
        result = replies.handle_reply(sender, text, STAFF)
    except ValidationError as err:
        assert err.field in ("text", "from"), (err.field, err.message)
        assert InboundMessage.select().count() == before
        return
    kept = InboundMessage.get_by_id(result.inbound_id)
    assert kept.text == (text or "")[: replies.MAX_TEXT]
