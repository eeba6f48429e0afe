"""The models' base classes: the database binding, UUID keys, and the audited row that
stamps who wrote it and when (the one place those columns are written)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from contextvars import ContextVar
from typing import Any, Self

from peewee import OP, Expression, Model, Node, UUIDField

from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.prepared import PreparedFamily, param


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def get_by_id(cls, pk: Any) -> Self:
        """peewee's get_by_id, its SQL built once per model (store/prepared.py): the rows a
        write re-reads by key are most of a desk's (and a simulated month's) reads."""
        for row in _BY_ID(cls).rows(id=pk):
            found: Self = row
            return found
        model: Any = cls  # each model's own DoesNotExist, made by peewee's metaclass
        raise model.DoesNotExist(f"{cls.__name__} matching id {pk!r} does not exist")

    @classmethod
    def get(cls, *query: Any, **filters: Any) -> Self:
        """peewee's get; a lookup by key alone (`Model.get(Model.id == x)`, and every lazy
        load of a foreign key: `offer.opening`) is get_by_id, its SQL built once."""
        if len(query) == 1 and not filters:
            expr = query[0]
            if (
                isinstance(expr, Expression)
                and expr.op == OP.EQ
                and expr.lhs is cls._meta.primary_key
                and not isinstance(expr.rhs, Node)
            ):
                return cls.get_by_id(expr.rhs)
        found: Self = super().get(*query, **filters)
        return found


def _insert_query(model: Any, names: tuple[str, ...]) -> Any:
    fields = model._meta.fields
    return model.insert(**{name: param(name, fields[name]) for name in names})


_INSERTS = PreparedFamily(lambda shape: _insert_query(*shape))
_BY_ID = PreparedFamily(
    lambda model: model.select().where(model._meta.primary_key == param("id")).limit(1)
)


# The what-if simulation draws its row ids from a seeded generator, so that ranking ties broken
# by id (and the order of a sweep) are the same on every run of the same seed.
seeded_ids: ContextVar[random.Random | None] = ContextVar("seeded_ids", default=None)


def new_id() -> uuid.UUID:
    """A new row's key: random (uuid4), or drawn from the simulation's seeded generator."""
    rng = seeded_ids.get()
    if rng is None:
        return uuid.uuid4()
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class UUIDModel(BaseModel):
    id = UUIDField(primary_key=True, default=new_id)

    @classmethod
    def create(cls, **query: Any) -> Self:
        """peewee's create, its insert prepared per table and columns (store/prepared.py):
        building the insert's SQL cost more than running it (a reply's inbound row, a new
        entry), and a row with a UUID key needs nothing back from the database."""
        return cls._inserted(cls(**query))

    @classmethod
    def _inserted(cls, row: Self) -> Self:
        """`row` inserted as peewee's save(force_insert=True) would; a value that is SQL
        rather than data (or a row without its key) takes peewee's own path."""
        raw: Any = row  # peewee's row state: its values, key and unsaved fields
        data = raw.__data__
        if raw._pk is None or any(isinstance(v, (Node, Model)) for v in data.values()):
            row.save(force_insert=True)
            return row
        _INSERTS((cls, tuple(data))).cursor(**data)
        raw._dirty -= set(data)
        return row


STAMPS = ("created_at", "created_by", "updated_at", "updated_by")


class AuditedModel(UUIDModel):
    """A row that says who wrote it and when. Its stamp columns (whichever of STAMPS the table
    has: an offer keeps sent_at rather than created_at, an outbox message has no updated_by)
    are set here, from the actor and the time of the write, never by hand in a service:
    `create_by` for a new row, `update_by` for a change (`stamps` for an insert query).

    The columns stay declared in each model, where they sit in the table: a base class's
    fields would come first in CREATE TABLE, and the schema of a new database is kept
    identical to that of a migrated one."""

    @classmethod
    def stamps(cls, actor: str | None, now: dt.datetime, *, new: bool = False) -> dict[str, Any]:
        """The stamp values of a write at `now` by `actor` (None: a job with no actor column
        to fill, such as delivery); `new` adds the created_* ones."""
        fields = cls._meta.fields
        values: dict[str, Any] = {}
        for name in STAMPS if new else STAMPS[2:]:
            if name in fields:
                value = now if name.endswith("_at") else actor
                if value is not None:
                    values[name] = value
        return values

    @classmethod
    def create_by(cls, actor: str | None, now: dt.datetime, **values: Any) -> Self:
        """A new row with its stamps (an import that restores a row passes its own). Its
        insert is prepared per table and columns (store/prepared.py); a value that is SQL
        rather than data takes peewee's own path."""
        return cls._inserted(cls(**{**cls.stamps(actor, now, new=True), **values}))

    @classmethod
    def update_by(cls, actor: str | None, now: dt.datetime, **values: Any) -> Any:
        """An update query that stamps the change (the caller adds its version check)."""
        return cls.update(**values, **cls.stamps(actor, now))
