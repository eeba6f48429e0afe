"""What an entry's input names, resolved: a service or provider by code or id, an entry by id.

Shared by the writes (adding, changes) and the list filters, so a code reads the same way
everywhere and a wrong one is the same 4000.
"""

from __future__ import annotations

from typing import Any, TypeVar

from waitlist_tui.domain.errors import NotFound, ValidationError
from waitlist_tui.domain.store import ids
from waitlist_tui.domain.store.ids import IdRef
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.models import Clinic, Entry, Provider, ProviderService, Service
from waitlist_tui.domain.store.prepared import PreparedFamily, param
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.waitlist.entry_input import MAX_REF

NOT_FOUND = "waitlist request not found"
CLOSED = "waitlist request is closed"

Coded = TypeVar("Coded", Service, Provider)


_BY_CODE = PreparedFamily(  # per model: every entry added names its service (and providers)
    lambda model: (
        model.select()
        .where((model.clinic == param("clinic")) & (model.code == param("code")))
        .limit(1)
    )
)


def by_code_or_id(
    model: type[Coded], clinic: Clinic, ref: Any, what: str, field_name: str
) -> Coded:
    """A row of this clinic by its code (any case) or its id or id prefix; anything else is a
    4000 on `field_name` (a NotFound would read as "no such entry")."""
    text = text_value(ref, field_name, max_len=MAX_REF)
    if not text:
        raise ValidationError(f"{field_name} is required", field=field_name)
    for found in _BY_CODE(model).rows(clinic=clinic, code=text.upper()):
        return found  # type: ignore[no-any-return]
    try:
        return ids.resolve(
            model, text, what, field=field_name, query=model.select().where(model.clinic == clinic)
        )
    except (NotFound, ValidationError):
        raise ValidationError(
            f"{field_name}: {text!r} is not a {what} of this clinic", field=field_name
        ) from None


def resolve_service(clinic: Clinic, ref: Any) -> Service:
    """An appointment service: a class has its own waitlist per instance (classes/)."""
    service = by_code_or_id(Service, clinic, ref, "service", "service")
    if service.kind != "appointment":
        raise ValidationError(
            f"service: {service.code} is a class; use its event waitlist", field="service"
        )
    return service


def resolve_providers(clinic: Clinic, service: Service, refs: Any) -> list[Provider]:
    """Preferred providers as a list or a comma/space separated text; each must offer the
    service (a preference nobody can meet would never match)."""
    if refs is None:
        return []
    if isinstance(refs, str):
        refs = [r for r in refs.replace(";", ",").replace(" ", ",").split(",") if r]
    if not isinstance(refs, list | tuple):
        raise ValidationError(
            "preferred_providers must be a list of provider codes or ids",
            field="preferred_providers",
        )
    found: list[Provider] = []
    for ref in refs:
        provider = by_code_or_id(Provider, clinic, ref, "provider", "preferred_providers")
        if provider not in found:
            found.append(provider)
    offering = {
        ids.fk_id(link, "provider")
        for link in ProviderService.select(ProviderService.provider).where(
            ProviderService.service == service
        )
    }
    for provider in found:
        if provider.id not in offering:
            raise ValidationError(
                f"preferred_providers: {provider.code} does not offer {service.code}",
                field="preferred_providers",
            )
    return found


def entry_row(entry_id: IdRef, *, lock: bool = False) -> Entry:
    """The entry's row by id or prefix (a locking read with `lock`, store.locking), or the
    4040 every entry command gives."""
    query = locked(Entry.select()) if lock else Entry.select()
    try:
        return ids.resolve(Entry, entry_id, "waitlist request", query=query)
    except NotFound:
        raise NotFound(NOT_FOUND, field="id", data=None) from None
