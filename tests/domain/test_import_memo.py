"""The per-row shortcuts of the import's check (issue 18) give the answers and the errors
of the checks they stand for: text_value's printable-ASCII path, the parsers remembered per
text (memo.py), the phone numbers remembered per text and region."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitlist_tui.domain.catalog import clients
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import parse_date, parse_hhmm, parse_instant
from waitlist_tui.domain.waitlist import entry_input


class Text(str):
    """A str subclass: text_value and the memos take their long way for it."""


def outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", call(*args)
    except ValidationError as err:
        return "error", (err.field, err.message)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.booleans())
def test_text_value_fast_path_is_the_long_way(value: str, multiline: bool) -> None:
    def check(v: str) -> str:
        return text_value(v, "notes", max_len=8, multiline=multiline)

    assert outcome(check, value) == outcome(check, Text(value))


WORDS = st.sampled_from(
    ["MONDAY", "mon", "Tu", "7", "0", "MORNING", "evening", "x", "", " 3 ", "SELF_PAY",
     "self pay", "Follow Up", "INITIAL_EVAL", "09:30", "24:00", "2026-02-30", "2026-11-23",
     "2026-11-24T09:00:00Z", "2026-03-08T02:30", "1899-12-31"]
)  # fmt: skip
PARSERS = [
    (entry_input.parse_days, ()),
    (entry_input.parse_time_slots, ()),
    (entry_input.parse_payment_type, ()),
    (entry_input.parse_appointment_type, ()),
    (entry_input.parse_priority, ()),
    (parse_hhmm, ("preferred_time_start",)),
    (parse_date, ("date_range_start",)),
    (parse_instant, ("America/New_York", "expires_at")),
]


@pytest.mark.parametrize(("parse", "rest"), PARSERS, ids=lambda p: getattr(p, "__name__", ""))
@settings(max_examples=60, deadline=None)
@given(word=WORDS, words=st.lists(WORDS, max_size=3))
def test_remembered_parsers_answer_as_the_parser(
    parse: Any, rest: tuple[str, ...], word: str, words: list[str]
) -> None:
    """Asked twice (the second answer remembered), a text or a list of texts gets what the
    parser itself gives, error messages included."""
    for value in (word, words):
        first = outcome(parse, value, *rest)
        assert outcome(parse, value, *rest) == first == outcome(parse.__wrapped__, value, *rest)


def test_a_phone_is_remembered_only_when_good(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "_PHONES", {})
    assert clients.normalize_phone("617-555-0101", "US") == "+16175550101"
    assert clients._PHONES == {("617-555-0101", "US"): "+16175550101"}
    assert clients.normalize_phone("617-555-0101", "US") == "+16175550101"
    with pytest.raises(ValidationError, match="'12' is not a valid phone number"):
        clients.normalize_phone("12", "US", "phone")
    assert len(clients._PHONES) == 1
    assert clients.parse_phones(["12", "617 555 0102"], "US") == {"617 555 0102": "+16175550102"}
