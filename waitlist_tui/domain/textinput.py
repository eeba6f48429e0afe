"""Text that a person, a file or a gateway hands us: checked on the way in, made safe on the
way out.

In: a text field holds a string (a list, object, number or boolean is refused, where
`str(value)` used to store "['+1617…']" as a phone), never NUL (PostgreSQL refuses it, in the
middle of a transaction) nor half a surrogate pair (not storable as UTF-8). One-line fields
(names, codes, phones, emails) hold no control characters at all; free text (notes, a
reply's text) may hold line breaks and tabs.

Out: `printable` shows control characters escaped, so a name or a note never sends a terminal
escape sequence to the desk's screen.
"""

from __future__ import annotations

import re
from typing import Any

from waitlist_tui.domain.errors import ValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL; and the bidirectional overrides that reorder what a terminal
# shows (a name could otherwise display as something else).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FREE_TEXT_ALLOWED = frozenset("\n\r\t")


def _describe(char: str) -> str:
    return "NUL" if char == "\x00" else f"U+{ord(char):04X}"


def text_value(
    value: Any,
    field: str,
    *,
    max_len: int,
    multiline: bool = False,
    strip: bool = True,
) -> str:
    """`value` as a checked string; a 4000 naming `field` and the rule otherwise.

    None reads as "" (the caller decides whether empty is allowed)."""
    if value is None:
        return ""
    if type(value) is str and value.isascii() and value.isprintable():
        # Most text of a file: printable ASCII holds no NUL, surrogate or control character
        # (the checks below), so only the length is left to check (issue 18: an import calls
        # this ten times a row).
        text = value.strip() if strip else value
        if len(text) > max_len:
            raise ValidationError(f"{field} is longer than {max_len} characters", field=field)
        return text
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text, got {_kind(value)}", field=field)
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain NUL characters", field=field)
    if _SURROGATE.search(value):
        raise ValidationError(
            f"{field} holds an unpaired surrogate (not valid Unicode text)", field=field
        )
    for found in _CONTROL.finditer(value):
        if not (multiline and found.group() in _FREE_TEXT_ALLOWED):
            what = "a line break" if found.group() in "\r\n" else _describe(found.group())
            raise ValidationError(
                f"{field} must not contain control characters ({what})", field=field
            )
    text = value.strip() if strip else value
    if len(text) > max_len:
        raise ValidationError(f"{field} is longer than {max_len} characters", field=field)
    return text


def _kind(value: Any) -> str:
    """The JSON name of a value's type, as the person who wrote the file would say it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def printable(value: Any, keep_lines: bool = False) -> str:
    """Text safe to show on a terminal: control characters as \\n, \\t, \\x1b, \\u202e.
    `keep_lines` keeps line breaks and tabs (a note shown in a pane of its own)."""
    text = "" if value is None else str(value)
    if not _CONTROL.search(text) and not _SURROGATE.search(text):
        return text
    escape = _escape_but_lines if keep_lines else _escape
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(escape, text))


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return repr(char)[1:-1] if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _escape_but_lines(found: re.Match[str]) -> str:
    return found.group() if found.group() in "\n\t" else _escape(found)


_NOT_DIGITS = re.compile(r"\D")


def search_text(first: str | None, last: str | None, email: str | None, phone: str | None) -> str:
    """What the desk may type to find a client: names, email, and the phone's digits."""
    digits = _NOT_DIGITS.sub("", phone or "")
    return " ".join(
        p for p in ((first or "").lower(), (last or "").lower(), (email or "").lower(), digits) if p
    )
