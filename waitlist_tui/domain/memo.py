"""Pure parsers remembered per text value (issue 18): an import reads the same service, days,
dates and payment type on row after row, and a parser asked the same text gives the same
answer. Only a `str` value is remembered (True and 1 hash alike; a list cannot be a key), and
only an answer: an error is raised afresh each time, so its message is the parser's own."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

T = TypeVar("T")
SIZE = 4096


def per_text(parse: Callable[..., T], size: int = SIZE) -> Callable[..., T]:
    """`parse(value, *rest)`, remembered when `value` is text; the result must be immutable
    (an int, a str, a date, a pendulum DateTime)."""
    cached = lru_cache(maxsize=size)(parse)

    @wraps(parse)
    def remembered(value: Any, *rest: Any) -> T:
        if type(value) is str:
            return cached(value, *rest)
        return parse(value, *rest)

    remembered.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return remembered


def per_texts(parse: Callable[..., T], size: int = SIZE) -> Callable[..., T]:
    """per_text for a parser of a list of words too (a CSV cell split: "MONDAY WEDNESDAY"),
    remembered as a tuple; the parser must read a tuple as the list. A list it refuses is
    parsed again as the list, so the error is the one the list itself gets."""
    cached = lru_cache(maxsize=size)(parse)

    @wraps(parse)
    def remembered(value: Any, *rest: Any) -> T:
        kind = type(value)
        if kind is str:
            return cached(value, *rest)
        if kind is list and all(type(v) is str for v in value):
            try:
                return cached(tuple(value), *rest)
            except Exception:  # the list's own error, just below
                pass
        return parse(value, *rest)

    remembered.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return remembered
