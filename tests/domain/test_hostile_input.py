"""Each break the hostile fuzz of issue 14 found, as a plain test: a 4000 naming the field
(and the row, for imports), no traceback, and no row changed; on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import STAFF, entry_payload
from tests.domain.fill_helpers import add_entry
from tests.domain.hostile_helpers import refused, row_counts
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup, setup_from_file
from waitlist_tui.domain.classes import schedule as event_schedule
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill.openings import add_opening
from waitlist_tui.domain.messaging import replies
from waitlist_tui.domain.quickdates import parse_quick_date
from waitlist_tui.domain.store.models import Client, Entry, InboundMessage
from waitlist_tui.domain.textinput import printable
from waitlist_tui.domain.waitlist import adding, changes, exchange, reading

RANGE = "between 1900-01-01 and 2100-12-31"


# --- years 9999 and 0001 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_range_start", "9999-12-31"),
        ("date_range_end", "0001-01-01"),
        ("expires_at", "9999-12-31T23:00"),
        ("original_appointment_at", "0001-01-01T00:00:00+05:00"),
    ],
)
def test_entry_dates_outside_the_range_are_refused(clinic, field: str, value: str) -> None:
    err = refused(lambda: adding.create(entry_payload(**{field: value}), STAFF), field)
    assert RANGE in err.message


def test_entry_update_with_year_9999_is_refused(clinic) -> None:
    view = add_entry()
    refused(
        lambda: changes.update(view.id, {"date_range_end": "9999-12-31"}, STAFF), "date_range_end"
    )
    assert reading.get(view.id).version == view.version


@pytest.mark.parametrize("start", ["9999-12-31T23:00", "0001-01-01T00:00:00+05:00"])
def test_openings_and_classes_outside_the_range_are_refused(clinic, start: str) -> None:
    err = refused(lambda: add_opening("KIM", start, 60, STAFF), "start")
    assert RANGE in err.message
    refused(lambda: event_schedule.schedule("PILATES", start, 10, STAFF), "start")


def test_setup_time_off_in_year_9999_is_refused(clinic) -> None:
    data = demo_clinic()
    data["providers"][0]["time_off"] = [{"start": "9999-12-31T23:00", "end": "9999-12-31T23:30"}]
    refused(lambda: apply_setup(data, STAFF), "providers[0].time_off[0].start")


def test_quick_dates_keep_to_the_range(frozen) -> None:
    import datetime as dt

    today = dt.date(2026, 11, 20)
    for text in ("9999-12-31", "0001-01-01", "+999m"):
        with pytest.raises(ValidationError, match=RANGE):
            parse_quick_date(text, today, "date_range_start")


# --- wrong JSON types -------------------------------------------------------------------------


@pytest.mark.parametrize("notes", [["a"], {"a": 1}, 5, True, 1.5])
def test_notes_must_be_text(clinic, notes) -> None:
    err = refused(lambda: adding.create(entry_payload(notes=notes), STAFF), "notes")
    assert "must be text" in err.message


@pytest.mark.parametrize(
    ("key", "value"),
    [("phone", ["617-555-0100"]), ("email", ["a@example.com"]), ("first_name", {"a": "b"})],
)
def test_client_fields_must_be_text(clinic, key: str, value) -> None:
    client = {"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0100", key: value}
    refused(lambda: adding.create(entry_payload(client=client), STAFF), f"client.{key}")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", ["PT-EVAL"]),
        ("payment_type", ["SELF_PAY"]),
        ("appointment_type", {"x": 1}),
        ("date_range_start", 20261201),
        ("preferred_providers", [["KIM"]]),
        ("preferred_days", ["²"]),  # a digit to isdigit(), not to int()
    ],
)
def test_other_entry_fields_refuse_the_wrong_type(clinic, field: str, value) -> None:
    refused(lambda: adding.create(entry_payload(**{field: value}), STAFF), field)


def test_opening_minutes_and_class_capacity_must_be_numbers(clinic) -> None:
    refused(lambda: add_opening("KIM", "2026-11-23T09:00", "lots", STAFF), "minutes")
    refused(lambda: event_schedule.schedule("PILATES", "2026-11-26T18:00", "x", STAFF), "capacity")
    refused(lambda: add_opening(["KIM"], "2026-11-23T09:00", 60, STAFF), "provider")  # type: ignore[arg-type]


# --- NUL and control characters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("notes", entry_payload(notes="call\x00me")),
        ("client.last_name", entry_payload(client={"first_name": "A", "last_name": "B\x00", "phone": "6175550100"})),
        ("client.first_name", entry_payload(client={"first_name": "A\x1b[31m", "last_name": "B", "phone": "6175550100"})),
        ("service", entry_payload(service="PT-EVAL\x00")),
        ("preferred_providers", entry_payload(preferred_providers=["KIM\x00"])),
        ("notes", entry_payload(notes="half a pair \ud800")),
    ],
)  # fmt: skip
def test_nul_and_control_characters_are_refused(clinic, field: str, payload) -> None:
    refused(lambda: adding.create(payload, STAFF), field)


def test_notes_keep_line_breaks_and_tabs(clinic) -> None:
    view = adding.create(entry_payload(notes="line one\r\nline\ttwo"), STAFF)
    assert reading.get(view.id).notes == "line one\r\nline\ttwo"


def test_a_reply_with_nul_is_refused_and_a_long_one_is_a_note(clinic) -> None:
    add_entry(client={"first_name": "Ann", "last_name": "Lee", "phone": "617-555-0150"})
    refused(lambda: replies.handle_reply("617-555-0150", "YES\x00", STAFF), "text")
    refused(lambda: replies.handle_reply(["617-555-0150"], "YES", STAFF), "from")  # type: ignore[arg-type]
    assert replies.parse("YES" + " " * 50_000 + "!") == (replies.NOTE, None)  # was minutes
    result = replies.handle_reply("617-555-0150", "YES" + " " * 15_000 + "?", STAFF)
    assert result.outcome == replies.NOTE
    assert len(InboundMessage.get().text) == replies.MAX_TEXT


def test_printable_escapes_control_characters() -> None:
    assert printable("Ann\x1b[31m\x00\u202e\n[/b]") == "Ann\\x1b[31m\\x00\\u202e\\n[/b]"
    assert printable(None) == "" and printable("Zoë") == "Zoë"


# --- setup TOML ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("clinic", "waitlist_enabled"), "maybe", "clinic.waitlist_enabled"),
        (("clinic", "parts_of_day"), "mornings", "clinic.parts_of_day"),
        (("clinic", "name"), ["Harbour"], "clinic.name"),
        (("clinic", "code"), "H\x00", "clinic.code"),
        (("clinic", "name"), "x" * 201, "clinic.name"),
        (("services", 0, "code"), 7, "services[0].code"),
        (("providers", 0, "hours"), ["MONDAY"], "providers[0].hours"),
        (("providers", 0, "services"), "PT-EVAL", "providers[0].services"),
        (("providers", 0, "time_off"), [5], "providers[0].time_off[0]"),
        (("services",), {"code": "X"}, "services"),
    ],
)
def test_setup_refuses_the_wrong_toml_types(db, path, value, field: str) -> None:
    data = demo_clinic()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    refused(lambda: apply_setup(data, STAFF), field)


def test_setup_file_not_utf8_is_refused(db, tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_bytes(b'[clinic]\ncode = "A"\nname = "\xff"\n')
    err = refused(lambda: setup_from_file(path, STAFF), "file")
    assert "not UTF-8" in err.message


# --- import files -------------------------------------------------------------------------------

HEADER = "first_name,last_name,phone,service,payment_type,notes,date_range_start\n"


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_import_of_deeply_nested_json_is_refused(clinic, tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    err = refused(lambda: exchange.import_file(path, STAFF), "file")
    assert "levels deep" in err.message
    item = {**entry_payload(), "notes": json.loads("[" * 40 + "]" * 40)}
    path = _write(tmp_path, "deep2.json", json.dumps([item]))
    refused(lambda: exchange.import_file(path, STAFF), "file")


def test_import_of_a_file_that_is_not_utf8_names_the_byte_and_line(clinic, tmp_path) -> None:
    path = _write(
        tmp_path, "latin1.csv", (HEADER + "Zoë,Lee,6175550100,PT-FU,SELF_PAY,,\n").encode("latin-1")
    )
    err = refused(lambda: exchange.import_file(path, STAFF), "file")
    assert "not UTF-8" in err.message and "line 2" in err.message


def test_import_of_a_cell_over_128_kib_names_the_row(clinic, tmp_path: Path) -> None:
    rows = (
        HEADER
        + "Ann,Lee,6175550100,PT-FU,SELF_PAY,,\n"
        + f'Bo,Li,6175550101,PT-FU,SELF_PAY,"{"x" * 140_000}",\n'
    )
    path = _write(tmp_path, "big.csv", rows)
    err = refused(lambda: exchange.import_file(path, STAFF), "file")
    assert "row 3" in err.message


def test_import_with_nul_names_the_row_and_field_and_writes_nothing(clinic, tmp_path) -> None:
    rows = (
        HEADER
        + "Ann,Lee,6175550100,PT-FU,SELF_PAY,ok,\n"
        + "Bo,Li,6175550101,PT-FU,SELF_PAY,a\x00b,\n"
    )
    path = _write(tmp_path, "nul.csv", rows)
    err = refused(lambda: exchange.import_file(path, STAFF), "notes")
    assert err.message.startswith("row 3: notes must not contain NUL")
    result = exchange.import_file(path, STAFF, skip_invalid=True)  # the good row goes in
    assert (result["added"], result["invalid"]) == (1, 1)


def test_import_of_a_year_9999_names_the_row(clinic, tmp_path: Path) -> None:
    path = _write(tmp_path, "y.csv", HEADER + "Ann,Lee,6175550100,PT-FU,SELF_PAY,,9999-12-31\n")
    err = refused(lambda: exchange.import_file(path, STAFF), "date_range_start")
    assert err.message.startswith("row 2: date_range_start must be " + RANGE)


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_import_without_an_email_column_reads_it_as_empty(clinic, tmp_path, skip_invalid) -> None:
    path = _write(tmp_path, "no-email.csv", HEADER + "Ann,Lee,6175550100,PT-FU,SELF_PAY,,\n")
    result = exchange.import_file(path, STAFF, skip_invalid=skip_invalid)
    assert result["added"] == 1 and Client.get().email is None


@pytest.mark.parametrize("column", ["service", "last_name"])
def test_import_without_a_required_column_names_it(clinic, tmp_path, column: str) -> None:
    names = [c for c in HEADER.strip().split(",") if c != column]
    values = {"first_name": "Ann", "last_name": "Lee", "phone": "6175550100", "service": "PT-FU",
              "payment_type": "SELF_PAY", "notes": "", "date_range_start": ""}  # fmt: skip
    text = ",".join(names) + "\n" + ",".join(values[n] for n in names) + "\n"
    path = _write(tmp_path, "missing.csv", text)
    for skip in (False, True):
        err = refused(
            lambda skip=skip: exchange.import_file(path, STAFF, skip_invalid=skip), column
        )
        assert f"no {column} column" in err.message


def test_import_without_a_payment_column_takes_the_clinics_default(clinic, tmp_path) -> None:
    text = "first_name,last_name,phone,service\nAnn,Lee,6175550100,PT-FU\n"
    result = exchange.import_file(_write(tmp_path, "nopay.csv", text), STAFF)
    assert result["added"] == 1 and Entry.get().payment_type == "SELF_PAY"


def test_import_json_with_the_wrong_types_names_the_row(clinic, tmp_path: Path) -> None:
    items = [
        entry_payload(),
        entry_payload(client={"first_name": "A", "last_name": "B", "phone": ["6175550100"]}),
    ]
    path = _write(tmp_path, "types.json", json.dumps(items))
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    assert info.value.message.startswith("row 2: client.phone must be text")
    assert info.value.field == "client.phone" and row_counts() == before
    assert Entry.select().count() == 0
