"""Clients (phones, emails, find-or-create) and clinic set-up from TOML.

The dates below are the frozen clock's (Friday 2026-11-20, the `db` fixture freezes it), so they
hold on any real date; `pytest --clock-at=+400d` checks that.
"""

from __future__ import annotations

import pytest

from tests.conftest import STAFF
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog import clients, clinics
from waitlist_tui.domain.catalog.setup import apply_setup, setup_from_file
from waitlist_tui.domain.errors import NotFound, ValidationError
from waitlist_tui.domain.store.models import Clinic, Provider, ProviderService, Service, TimeOff


def test_phone_is_e164_in_clinic_region() -> None:
    assert clients.normalize_phone("(617) 555-0142", "US") == "+16175550142"
    assert clients.normalize_phone("020 7946 0018", "GB") == "+442079460018"
    with pytest.raises(ValidationError) as info:
        clients.normalize_phone("555", "US")
    assert info.value.field == "client.phone"


def test_email_is_normalised_without_dns() -> None:
    assert clients.normalize_email(" Ana@EXAMPLE.com ") == "Ana@example.com"
    with pytest.raises(ValidationError, match="client.email"):
        clients.normalize_email("ana@@example")


def test_find_or_create_dedupes_by_name_and_contact(clinic: Clinic) -> None:
    data = clients.parse_client(
        {"first_name": "Ana", "last_name": "Silva", "phone": "617 555 0100"}, "US"
    )
    first, created = clients.find_or_create(clinic, data, STAFF)
    again, created_again = clients.find_or_create(clinic, data, STAFF)
    sibling, sibling_created = clients.find_or_create(
        clinic,
        clients.parse_client(
            {"first_name": "Rui", "last_name": "Silva", "phone": "617 555 0100"}, "US"
        ),
        STAFF,
    )
    assert created and not created_again and first.id == again.id
    assert sibling_created and sibling.id != first.id  # a shared family phone
    rows, total = clients.list_clients(clinic, search="555 0100")
    assert total == 2 and {r.first_name for r in rows} == {"Ana", "Rui"}


def test_client_needs_a_way_to_reach_them() -> None:
    with pytest.raises(ValidationError, match="phone or an email"):
        clients.parse_client({"first_name": "A", "last_name": "B"}, "US")


def test_setup_creates_then_updates_by_code(clinic: Clinic) -> None:
    assert Service.select().count() == 5 and Provider.select().count() == 4
    kim = Provider.get(Provider.code == "KIM")
    assert kim.weekly_hours["MONDAY"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    data = demo_clinic()
    data["clinic"]["max_span_days"] = 45
    data["services"][0]["duration_minutes"] = 50
    data["providers"][0]["services"] = ["PT-FU"]
    data["providers"][0]["time_off"] = [
        {"start": "2026-12-24T00:00", "end": "2026-12-27T00:00", "reason": "Holidays"}
    ]
    result = apply_setup(data, STAFF)
    assert result == {
        "clinic": "HARBOUR",
        "created": False,
        "services": 5,
        "providers": 4,
        "warnings": [],
    }
    assert Clinic.select().count() == 1 and Clinic.get().max_span_days == 45
    assert Service.get(Service.code == "PT-EVAL").duration_minutes == 50
    assert [
        ps.service.code for ps in ProviderService.select().where(ProviderService.provider == kim)
    ] == ["PT-FU"]
    off = TimeOff.get(TimeOff.provider == kim)
    assert off.starts_at.isoformat() == "2026-12-24T05:00:00+00:00"  # New York midnight, UTC


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["clinic"].pop("time_zone"), "clinic.time_zone is required"),
        (lambda d: d["clinic"].update(time_zone="Mars/Base"), "not a known time zone"),
        (lambda d: d["services"][0].update(duration_minutes=0), "services[0].duration_minutes"),
        (lambda d: d["providers"][1].update(services=["YOGA"]), "providers[1].services"),
        (
            lambda d: d["providers"][0]["hours"].update(MONDAY=["12:00-08:00"]),
            "providers[0].hours.MONDAY",
        ),
        (
            lambda d: d["providers"][0].update(
                time_off=[{"start": "2027-03-14T02:30", "end": "2027-03-14T05:00"}]
            ),
            "does not exist in America/New_York",
        ),
    ],
)
def test_setup_errors_name_the_path_and_write_nothing(db: object, mutate, message: str) -> None:
    data = demo_clinic()
    mutate(data)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        apply_setup(data, STAFF)
    assert Clinic.select().count() == 0


def test_setup_file_errors(db: object, tmp_path) -> None:
    bad = tmp_path / "clinic.toml"
    bad.write_text("[clinic\n")
    with pytest.raises(ValidationError, match="not valid TOML"):
        setup_from_file(bad, STAFF)
    with pytest.raises(ValidationError, match="not found"):
        setup_from_file(tmp_path / "missing.toml", STAFF)


def test_no_clinic_yet_says_what_to_do(db: object) -> None:
    with pytest.raises(NotFound, match="waitlist-tui demo"):
        clinics.get_clinic()
