"""Consent that means no: flags read strictly on every path (entries, clients, import, setup),
the clinic's default for a new client, and the desk recording what a client said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import STAFF, entry_payload
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.flags import parse_bool
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.store.models import AuditEvent, Client, Clinic, Entry
from waitlist_tui.domain.waitlist import adding, exchange

NO_WORDS = ["false", "no", "0", "off", "FALSE", " No ", "Off", "\tOFF\n", False, 0]
YES_WORDS = ["true", "yes", "1", "on", "TRUE", " Yes ", "On", True, 1]
BAD = ["maybe", "", "nope", "y", 2, -1, 0.0, 1.5, [], ["no"], {}, {"a": 1}, None, 10**40]


@pytest.mark.parametrize("value", NO_WORDS)
def test_parse_bool_reads_no(value) -> None:
    assert parse_bool(value, "f") is False


@pytest.mark.parametrize("value", YES_WORDS)
def test_parse_bool_reads_yes(value) -> None:
    assert parse_bool(value, "f") is True


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_parse_bool_refuses_the_rest_naming_the_field(value) -> None:
    with pytest.raises(ValidationError) as info:
        parse_bool(value, "client.consent_sms")
    assert info.value.code == 4000 and info.value.field == "client.consent_sms"
    assert info.value.message.startswith(
        "client.consent_sms must be true or false (yes/no, 1/0, on/off)"
    )


def with_consent(**values) -> dict:
    payload = entry_payload()
    payload["client"] = {**payload["client"], **values}  # type: ignore[dict-item]
    return payload


def jane() -> Client:
    return Client.get(Client.first_name == "Jane")


@pytest.mark.parametrize("said", ["false", "no", "0", "off", " OFF ", False, 0])
def test_a_client_who_says_no_is_stored_as_no(clinic: Clinic, said) -> None:
    adding.create(with_consent(consent_sms=said, consent_email="yes"), STAFF)
    assert (jane().consent_sms, jane().consent_email) == (False, True)


@pytest.mark.parametrize("said", ["maybe", 2, ["no"], {"x": 1}, "nein"], ids=repr)
def test_an_unclear_consent_is_refused_and_nothing_written(clinic: Clinic, said) -> None:
    with pytest.raises(ValidationError) as info:
        adding.create(with_consent(consent_email=said), STAFF)
    assert info.value.field == "client.consent_email"
    assert "client.consent_email must be true or false" in info.value.message
    assert Client.select().count() == 0 and Entry.select().count() == 0


def set_default(clinic: Clinic, default: str | None) -> Clinic:
    data = demo_clinic()
    data.pop("consent", None)
    if default is not None:
        data["consent"] = {"default": default}
    apply_setup(data, STAFF)
    return Clinic.get_by_id(clinic.id)


def test_the_clinic_default_fills_an_unstated_consent(clinic: Clinic) -> None:
    assert consent.of(clinic).default == "yes"  # the demo clinic's file says so
    set_default(clinic, "no")
    adding.create(with_consent(consent_email=True), STAFF)
    assert (jane().consent_sms, jane().consent_email) == (False, True)


@pytest.mark.parametrize("default", ["ask", None])
def test_a_clinic_that_asks_refuses_a_new_client_without_consent(clinic, default) -> None:
    """`ask` is also what a clinic gets that has not decided: never a silent yes."""
    set_default(clinic, default)
    with pytest.raises(ValidationError) as info:
        adding.create(with_consent(consent_sms="yes"), STAFF)
    assert info.value.field == "client.consent_email" and "is required" in info.value.message
    assert Client.select().count() == 0 and Entry.select().count() == 0
    adding.create(with_consent(consent_sms="yes", consent_email="no"), STAFF)
    assert (jane().consent_sms, jane().consent_email) == (True, False)
    adding.create(entry_payload(service="PT-FU"), STAFF)  # the same client: already answered
    assert Entry.select().count() == 2 and Client.select().count() == 1


def test_a_payload_may_withdraw_an_existing_clients_consent_never_give_it_back(
    clinic: Clinic,
) -> None:
    adding.create(entry_payload(), STAFF)
    assert jane().consent_sms is True
    adding.create(with_consent(consent_sms="no") | {"service": "PT-FU"}, STAFF)
    assert jane().consent_sms is False
    row = AuditEvent.select().where(AuditEvent.action == "client.consent").get()
    assert row.object_id == str(jane().id) and row.actor == STAFF
    assert row.changes["consent_sms"] == [True, False]
    adding.create(with_consent(consent_sms="yes") | {"notes": "again"}, STAFF)
    assert jane().consent_sms is False  # an old file cannot undo a STOP


def test_the_desk_records_consent_strictly(clinic: Clinic) -> None:
    adding.create(entry_payload(), STAFF)
    client = clients.update_consent(str(jane().id)[:8], {"consent_sms": "off"}, STAFF)
    assert (client.consent_sms, client.consent_email, client.version) == (False, True, 2)
    client = clients.update_consent(jane().id, {"consent_sms": "ON"}, STAFF)
    assert client.consent_sms is True
    for bad, field in (
        ({"consent_sms": "maybe"}, "client.consent_sms"),
        ({"phone": "1"}, "phone"),
        ({}, "consent_sms"),
    ):
        with pytest.raises(ValidationError) as info:
            clients.update_consent(jane().id, bad, STAFF)
        assert info.value.field == field
    assert jane().version == 3


def test_setup_reads_its_flags_strictly(clinic: Clinic) -> None:
    data = demo_clinic()
    data["clinic"]["waitlist_enabled"] = "false"
    apply_setup(data, STAFF)
    assert Clinic.get().waitlist_enabled is False
    for table, key, value in (
        ("clinic", "waitlist_enabled", "maybe"),
        ("clinic", "no_answer_advances", 3),
        ("consent", "default", "sometimes"),
        ("consent", "contact_line", ["x"]),
        ("consent", "colour", "red"),
    ):
        bad = demo_clinic()
        bad[table][key] = value
        with pytest.raises(ValidationError) as info:
            apply_setup(bad, STAFF)
        assert info.value.field == f"{table}.{key}", (table, key)
    assert Clinic.get().waitlist_enabled is False  # nothing written by the refused files


def test_setup_keeps_the_consent_settings(clinic: Clinic) -> None:
    data = demo_clinic()
    data["consent"] = {"default": False, "contact_line": "  Call  us: 617 555 0100 "}
    apply_setup(data, STAFF)
    settings = consent.of(Clinic.get())
    assert (settings.default, settings.contact_line) == ("no", "Call us: 617 555 0100")


CSV_HEAD = "first_name,last_name,phone,email,service,payment_type,consent_sms,consent_email\n"


def test_csv_import_reads_consent_strictly_and_defaults_a_blank(
    clinic: Clinic, tmp_path: Path
) -> None:
    set_default(clinic, "no")
    path = tmp_path / "in.csv"
    path.write_text(
        CSV_HEAD
        + "Ann,Lee,617-555-0101,,PT-EVAL,SELF_PAY,no,YES\n"
        + "Bob,Wu,617-555-0102,,PT-EVAL,SELF_PAY, On ,\n"
    )
    assert exchange.import_file(path, STAFF)["imported"] == 2
    got = {c.first_name: (c.consent_sms, c.consent_email) for c in Client.select()}
    assert got == {"Ann": (False, True), "Bob": (True, False)}


def test_csv_import_refuses_an_unclear_consent_naming_row_and_field(
    clinic: Clinic, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        CSV_HEAD
        + "Ann,Lee,617-555-0101,,PT-EVAL,SELF_PAY,no,yes\n"
        + "Bob,Wu,617-555-0102,,PT-EVAL,SELF_PAY,maybe,yes\n"
    )
    with pytest.raises(ValidationError) as info:
        exchange.import_file(path, STAFF)
    (error,) = info.value.data["errors"]
    assert (error["row"], error["field"]) == (3, "client.consent_sms")
    assert Client.select().count() == 0


def test_csv_import_without_consent_columns_uses_the_default(
    clinic: Clinic, tmp_path: Path
) -> None:
    set_default(clinic, "ask")
    path = tmp_path / "in.csv"
    path.write_text(
        "first_name,last_name,phone,email,service,payment_type\n"
        "Ann,Lee,617-555-0101,,PT-EVAL,SELF_PAY\n"
    )
    result = exchange.import_file(path, STAFF, skip_invalid=True)
    assert result["imported"] == 0 and result["errors"][0]["field"] == "client.consent_sms"
    set_default(clinic, "no")
    assert exchange.import_file(path, STAFF)["imported"] == 1
    assert (Client.get().consent_sms, Client.get().consent_email) == (False, False)


def test_json_import_reads_consent_strictly(clinic: Clinic, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    items = [with_consent(consent_sms="false", consent_email=0)]
    path.write_text(json.dumps(items))
    assert exchange.import_file(path, STAFF)["imported"] == 1
    assert (jane().consent_sms, jane().consent_email) == (False, False)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([with_consent(consent_sms=[True]) | {"service": "PT-FU"}]))
    with pytest.raises(ValidationError) as info:
        exchange.import_file(bad, STAFF)
    assert info.value.data["errors"][0]["field"] == "client.consent_sms"
