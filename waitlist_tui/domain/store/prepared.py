"""Queries built once and run many times with new values (issue 23's speed).

Building a query's SQL in peewee costs more than SQLite takes to run it (a fairness record's
fixed queries spent ~28 ms of ~90 ms building SQL). A `Prepared` query is written with named
placeholders (`param("name")`) where its values go; its SQL is built on first use for each
backend, and each run only converts the values (with the column's own converter, as peewee
would) and executes. Rows come back as the query's own row type (`.tuples()`, `.dicts()`,
models), through peewee's cursor wrappers, so a prepared query reads exactly as the
ordinary one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from peewee import JSONField, Node

from waitlist_tui.domain.store.db import database


class _Slot:
    """Where one value goes in the built SQL's parameters, and how it is converted."""

    __slots__ = ("converter", "index", "name")

    def __init__(self, name: str, converter: Callable[[Any], Any] | None, index: int | None):
        self.name, self.converter, self.index = name, converter, index

    def value(self, values: dict[str, Any]) -> Any:
        value = values[self.name]
        if self.index is not None:
            value = value[self.index]
        return self.converter(value) if self.converter is not None else value


class Param(Node):
    """A named value of a prepared query: one placeholder, or `size` of them in parentheses
    (an IN list of that length). The column compared with it converts it (`field`, or the
    column on the other side of the comparison)."""

    def __init__(self, name: str, field: Any = None, size: int | None = None) -> None:
        super().__init__()
        self.name, self.field, self.size = name, field, size

    def __sql__(self, ctx: Any) -> Any:
        converter = _converter(self.field) if self.field is not None else ctx.state.converter
        if self.size is None:
            return ctx.value(_Slot(self.name, converter, None), converter=False)
        ctx.literal("(")
        for i in range(self.size):
            if i:
                ctx.literal(", ")
            ctx.value(_Slot(self.name, converter, i), converter=False)
        return ctx.literal(")")


def _converter(field: Any) -> Callable[[Any], Any]:
    """The field's db_value; a JSONField's text as it is (its db_value wraps it in a SQL
    function, json(?) on SQLite; both databases read the text as JSON: db.insert_dicts)."""
    if isinstance(field, JSONField):
        json_field: Any = field
        return lambda value: None if value is None else json_field._dumps(value)
    converter: Callable[[Any], Any] = field.db_value
    return converter


def param(name: str, field: Any = None, size: int | None = None) -> Any:
    return Param(name, field, size)


class Prepared:
    """A query whose SQL is built once per backend by `build` (placeholders: `param`)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built: dict[type, tuple[Any, str, list[Any]]] = {}
        self._mappings: dict[type, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _compiled(self) -> tuple[Any, str, list[Any]]:
        backend = type(database.obj)
        built = self._built.get(backend)
        if built is None:
            query = self._build()
            sql, params = database.get_sql_context().sql(query).query()
            built = (query, sql, list(params))
            with self._lock:
                self._built[backend] = built
        return built

    def cursor(self, **values: Any) -> Any:
        _, sql, template = self._compiled()
        params = [p.value(values) if isinstance(p, _Slot) else p for p in template]
        return database.execute_sql(sql, params)

    def rows(self, **values: Any) -> Any:
        """The rows, as the built query would return them (its row type, converted). How
        peewee maps the columns to fields, converters and joined models depends only on the
        query, so it is worked out on the first run and reused (it cost about as much as
        building the SQL)."""
        query = self._compiled()[0]
        wrapper = query._get_cursor_wrapper(self.cursor(**values))
        backend = type(database.obj)
        mapping = self._mappings.get(backend)
        if mapping is not None:
            vars(wrapper).update(mapping)
            wrapper.initialized = True
        elif wrapper.cursor.description is not None:
            before = set(vars(wrapper))
            wrapper.initialize()
            wrapper.initialized = True
            with self._lock:
                self._mappings[backend] = {
                    k: v for k, v in vars(wrapper).items() if k not in before
                }
        return wrapper

    def get(self, **values: Any) -> Any:
        """The first row, or the model's DoesNotExist (as peewee's `.get()`)."""
        for row in self.rows(**values):
            return row
        query = self._compiled()[0]
        raise query.model.DoesNotExist(f"{query.model.__name__} matching {values!r} does not exist")

    def scalar(self, **values: Any) -> Any:
        row = self.cursor(**values).fetchone()
        return row[0] if row else None


class PreparedFamily:
    """Prepared queries of one shape per key (e.g. an IN list's length): `build(key)`."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._members: dict[Any, Prepared] = {}

    def __call__(self, key: Any) -> Prepared:
        member = self._members.get(key)
        if member is None:
            member = self._members[key] = Prepared(lambda: self._build(key))
        return member
