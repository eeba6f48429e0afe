"""IDs are UUIDs; any unique prefix of 6+ hex characters is accepted wherever an id is.

A prefix becomes a range [prefix000..., prefixfff...] so the primary-key index answers it on
SQLite (hex text) and PostgreSQL (uuid) alike.
"""

from __future__ import annotations

import re
import uuid
from typing import TypeVar, cast

from peewee import Model, ModelSelect

from waitlist_tui.domain.errors import NotFound, ValidationError
from waitlist_tui.domain.store.locking import locked
from waitlist_tui.domain.store.prepared import PreparedFamily, param

MIN_PREFIX = 6
_HEX = re.compile(r"^[0-9a-f]+$")

M = TypeVar("M", bound=Model)


def parse_prefix(text: str, field: str = "id") -> tuple[uuid.UUID, uuid.UUID] | uuid.UUID:
    """An exact UUID, or the (low, high) bounds of a prefix."""
    raw = str(text).strip().lower()
    try:
        return uuid.UUID(raw)
    except ValueError:
        pass
    compact = raw.replace("-", "")
    if not _HEX.match(compact or "x") or len(compact) > 32:
        raise ValidationError(f"{field} '{text}' is not a UUID or a UUID prefix", field=field)
    if len(compact) < MIN_PREFIX:
        raise ValidationError(
            f"{field} '{text}' is too short: give at least {MIN_PREFIX} characters", field=field
        )
    return uuid.UUID(compact.ljust(32, "0")), uuid.UUID(compact.ljust(32, "f"))


# An id as callers hold it: resolved (a UUID) or as a person typed it (text, a prefix).
IdRef = uuid.UUID | str


_BY_KEY = PreparedFamily(
    lambda model: model.select().where(model._meta.primary_key == param("id")).limit(1)
)
_LOCKED_BY_KEY = PreparedFamily(  # locked() reads the backend as its SQL is built for it
    lambda model: locked(model.select().where(model._meta.primary_key == param("id")).limit(1))
)


def resolve(
    model: type[M],
    text: str | uuid.UUID,
    what: str,
    *,
    field: str = "id",
    query: ModelSelect[M] | None = None,
    lock: bool = False,
) -> M:
    """Fetch one row of `model` by id or unique prefix; NotFound names `what`. `query` (a
    select of `model`: with joins) is the one to run; `lock` locks the row
    (store.locking.locked), by a key with its SQL built once."""
    own_query = query is None
    by_key = isinstance(text, uuid.UUID) and own_query
    if query is None:
        query = locked(model.select()) if lock else model.select()
    base = query
    pk = model._meta.primary_key
    assert pk is not False, f"{model.__name__} has no primary key"
    found: list[M]
    if by_key:
        family = _LOCKED_BY_KEY if lock else _BY_KEY
        found = list(family(model).rows(id=text))  # the common case, its SQL built once
    elif isinstance(text, uuid.UUID):
        found = list(base.where(pk == text).limit(1))
    else:
        bounds = parse_prefix(text, field)
        if isinstance(bounds, uuid.UUID) and own_query:  # a whole id typed or sent (SMS)
            found = list((_LOCKED_BY_KEY if lock else _BY_KEY)(model).rows(id=bounds))
        elif isinstance(bounds, uuid.UUID):
            found = list(base.where(pk == bounds).limit(1))
        else:
            found = list(base.where(pk.between(*bounds)).limit(2))
    if not found:
        raise NotFound(f"{what} not found", field=field, data={"id": str(text)})
    if len(found) > 1:
        raise ValidationError(
            f"{field} prefix '{text}' matches more than one {what}; type more characters",
            field=field,
        )
    return found[0]


def fk_id(row: Model, name: str) -> uuid.UUID:
    """The id held in `row`'s foreign key `name`, without loading the row it points to:
    peewee's `<name>_id` accessor, which its stubs do not declare (so mypy refuses it)."""
    return cast(uuid.UUID, getattr(row, f"{name}_id"))
