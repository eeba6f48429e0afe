"""GSM-7 or UCS-2, and segment counts: one curly apostrophe turns 160 a segment into 70;
set-up warns about an SMS template that goes as UCS-2 or runs past two segments."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF
from waitlist_tui.domain.assets import demo_clinic
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.messaging import sms_fit, templates


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table: two places each
        ("[x]" + "a" * 156, "GSM-7", 161, 2),
        ("Café, Ñoño, Øre, £5 @ 9", "GSM-7", 23, 1),
        ("Ñandú", "UCS-2", 5, 1),  # ú is not GSM (ù is)
        ("it’s" + "a" * 66, "UCS-2", 70, 1),  # the curly apostrophe
        ("it’s" + "a" * 67, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
        ("ç" * 135, "UCS-2", 135, 3),  # lower-case ç is not GSM (only Ç is)
    ],
)
def test_fit(text, encoding, units, segments) -> None:
    found = sms_fit.fit(text)
    assert (found.encoding, found.units, found.segments) == (encoding, units, segments)


def test_the_shipped_templates_fit() -> None:
    assert sms_fit.check_templates(templates.defaults(), "Harbour Physio & Wellness") == []


def test_a_curly_apostrophe_or_a_long_text_is_warned() -> None:
    own = {
        "offer": {"sms": "Hi {first_name}, we’ve a slot {slot}. Reply YES by {hold_until}."},
        "booked": {"sms": "Booked: {slot}. " + "Please arrive early. " * 20},
        "already_filled": {"sms": "Sorry, {slot} is taken."},
    }
    warnings = sms_fit.check_templates(own, "Clinic")
    assert len(warnings) == 2
    assert "offer" in warnings[0] and "U+2019" in warnings[0] and "70 characters" in warnings[0]
    assert "booked" in warnings[1] and "3 SMS segments" in warnings[1]


def test_setup_returns_the_warnings(db, tmp_path) -> None:
    (tmp_path / "t.toml").write_text(
        '[offer]\nsms = "Hi {first_name}, it’s {slot}; reply YES by {hold_until}."\n'
    )
    data = demo_clinic()
    data["messages"] = {"templates": "t.toml"}
    result = apply_setup(data, STAFF, tmp_path)
    assert len(result["warnings"]) == 1 and "UCS-2" in result["warnings"][0]
