"""Yes/no values from people and files, read strictly: the one place a flag is parsed.

`bool("false")` is True, so a client who ticked "no" in a spreadsheet would be texted. A flag
is a JSON boolean, the integers 0 and 1, or one of true/false, yes/no, 1/0, on/off (any case,
surrounding blanks ignored); anything else is a ValidationError (4000) naming the field.
"""

from __future__ import annotations

from typing import Any

from waitlist_tui.domain.errors import ValidationError

TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off"})
RULE = "true or false (yes/no, 1/0, on/off)"


def parse_bool(value: Any, field: str) -> bool:
    """The flag `value` means; a ValidationError naming `field` for anything unclear."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValidationError(f"{field} must be {RULE}, got {_shown(value)}", field=field)


def _shown(value: Any) -> str:
    """A short echo of what was given (a huge number or nested list is not repeated)."""
    if isinstance(value, str):
        return repr(value[:30] + ("..." if len(value) > 30 else ""))
    if isinstance(value, int | float) and abs(value) < 10**12:
        return repr(value)
    return "null" if value is None else f"a {type(value).__name__}"


def parse_optional_bool(value: Any, field: str) -> bool | None:
    """None or a blank string: not stated (a default applies); otherwise parse_bool."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_bool(value, field)
