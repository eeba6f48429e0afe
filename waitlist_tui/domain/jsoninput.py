"""JSON from a file or stdin, refused cleanly when it is not text, not JSON, or nested so deep
that reading it (or printing a value of it in a message) would exhaust Python's stack.

An entry is two levels deep (the entry, its client); a list of entries three. Anything past
MAX_DEPTH is a hostile or broken file, refused with a 4000 before any field is looked at.
"""

from __future__ import annotations

import json
from typing import Any

from waitlist_tui.domain.errors import ValidationError

MAX_DEPTH = 32


def decode_utf8(data: bytes, source: str, field: str) -> str:
    """The file's text; a byte that is not UTF-8 is named with its offset and line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{source} is not UTF-8 text: byte {exc.start} (line {line}) is "
            f"0x{data[exc.start]:02x}; save it as UTF-8 and try again",
            field=field,
            data={"offset": exc.start, "line": line},
        ) from None


def loads(text: str, source: str, field: str) -> Any:
    """`json.loads`, with every way it can fail as a 4000 naming `field`."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    except ValueError as exc:  # JSONDecodeError, and a number of more than 4300 digits
        raise ValidationError(f"{source} is not valid JSON: {exc}", field=field) from None
    else:
        too_deep = _deeper_than(value, MAX_DEPTH)
    if too_deep:
        raise ValidationError(
            f"{source} nests lists or objects more than {MAX_DEPTH} levels deep", field=field
        )
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Walked without recursion: the check must not fail the way it guards against."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
