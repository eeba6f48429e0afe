"""The clinic and its catalogue (services, providers), as the desk and the CLI read them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import NotFound
from waitlist_tui.domain.fill import offer_spacing, offer_time
from waitlist_tui.domain.messaging import consent
from waitlist_tui.domain.store.db import tuple_rows
from waitlist_tui.domain.store.models import Clinic, Provider, ProviderService, Service
from waitlist_tui.domain.store.prepared import Prepared, param

PAYMENT_SETTING = "default_payment_type"


def default_payment_type(clinic: Clinic) -> str:
    """What an entry that names no payment type gets: the clinic's choice, SELF_PAY unless
    its set-up says otherwise (the CLI required one and the app filled SELF_PAY in)."""
    return str((clinic.settings or {}).get(PAYMENT_SETTING) or vocab.SELF_PAY)


def has_clinic() -> bool:
    """Whether any clinic is set up in the open database."""
    return Clinic.select().exists()


_FIRST = Prepared(  # read by every desk action and simulated step: its SQL built once
    lambda: Clinic.select().order_by(Clinic.created_at, Clinic.code).limit(1)
)
_BY_CODE = Prepared(
    lambda: (
        Clinic.select()
        .where(Clinic.code == param("code"))
        .order_by(Clinic.created_at, Clinic.code)
        .limit(1)
    )
)


def get_clinic(code: str | None = None) -> Clinic:
    """The clinic by code, or the first one set up (a desk usually runs one location)."""
    query = _BY_CODE.rows(code=code.upper()) if code else _FIRST.rows()
    clinic: Clinic | None = next(iter(query), None)
    if clinic is None:
        if code:
            raise NotFound(f"clinic {code} not found", field="clinic")
        raise NotFound(
            "no clinic is set up: run `waitlist-tui setup FILE` or `waitlist-tui demo`",
            field="clinic",
        )
    return clinic


def clinic_dict(clinic: Clinic) -> dict[str, Any]:
    return {
        "id": str(clinic.id),
        "code": clinic.code,
        "name": clinic.name,
        "time_zone": clinic.time_zone,
        "region": clinic.region,
        "waitlist_enabled": clinic.waitlist_enabled,
        "max_span_days": clinic.max_span_days,
        "offer_hold_minutes": clinic.offer_hold_minutes,
        "default_workflow": clinic.default_workflow,
        "broadcast_top_n": clinic.broadcast_top_n,
        "parts_of_day": clinic.parts_of_day,
        "event_waitlist_mode": clinic.event_waitlist_mode,
        "no_answer_advances": clinic.no_answer_advances,
        "consent": consent.of(clinic).to_json(),
        "min_notice": offer_time.min_notice(clinic),
        offer_spacing.SETTING: offer_spacing.hours(clinic),
        PAYMENT_SETTING: default_payment_type(clinic),
        "version": clinic.version,
    }


def services(clinic: Clinic) -> list[Service]:
    return list(Service.select().where(Service.clinic == clinic).order_by(Service.code))


def service_dict(service: Service) -> dict[str, Any]:
    return {
        "id": str(service.id),
        "code": service.code,
        "name": service.name,
        "duration_minutes": service.duration_minutes,
        "appointment_type": service.appointment_type,
        "kind": service.kind,
    }


def providers(clinic: Clinic) -> list[Provider]:
    return list(Provider.select().where(Provider.clinic == clinic).order_by(Provider.code))


def provider_service_codes(clinic: Clinic) -> dict[Any, list[str]]:
    """Provider id -> codes of the services they offer, in one query."""
    rows = tuple_rows(
        ProviderService.select(ProviderService.provider, Service.code)
        .join(Service)
        .where(Service.clinic == clinic)
        .order_by(Service.code)
    )
    result: dict[Any, list[str]] = defaultdict(list)
    for provider_id, code in rows:
        result[provider_id].append(code)
    return result


def provider_dict(provider: Provider, service_codes: list[str]) -> dict[str, Any]:
    return {
        "id": str(provider.id),
        "code": provider.code,
        "name": provider.name,
        "services": service_codes,
        "hours": provider.weekly_hours,
    }


@dataclass(frozen=True)
class Catalog:
    """What an entry form offers to choose from, read once when the form opens."""

    time_zone: str
    max_span_days: int
    services: tuple[tuple[str, str], ...]  # (code, "Name (45 min)")
    providers_by_service: dict[str, tuple[tuple[str, str], ...]]  # code -> ((code, name), ...)
    consent_default: str = consent.ASK  # what a new client's consent boxes start at
    payment_default: str = vocab.SELF_PAY  # the clinic's default_payment_type


def load_catalog(clinic: Clinic | None = None) -> Catalog:
    clinic = clinic or get_clinic()
    offered = services(clinic)
    by_id = {s.id: s.code for s in offered}
    rows = tuple_rows(
        ProviderService.select(ProviderService.service, Provider.code, Provider.name)
        .join(Provider, on=ProviderService.provider == Provider.id)
        .where(Provider.clinic == clinic, Provider.active == True)  # noqa: E712
        .order_by(Provider.name)
    )
    linked: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for service_id, code, name in rows:
        if service_id in by_id:
            linked[by_id[service_id]].append((code, name))
    return Catalog(
        time_zone=clinic.time_zone,
        max_span_days=clinic.max_span_days,
        services=tuple(
            (s.code, f"{s.name} ({s.duration_minutes} min)")
            for s in offered
            if s.kind == "appointment" and s.active
        ),
        providers_by_service={code: tuple(v) for code, v in linked.items()},
        consent_default=consent.of(clinic).default,
        payment_default=default_payment_type(clinic),
    )
