"""The workflow that adapts to lead time: the rules table, its checks, and offers made by it."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.setup import apply_setup, parse_setup
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import fairness, lead_time, offer_time, offers
from waitlist_tui.domain.fill.finder import find_for_opening
from waitlist_tui.domain.store.models import Clinic

RULES = [
    {"from_hours": 72, "workflow": "SEQUENTIAL", "hold_minutes": 240},
    {"from_hours": 24, "to_hours": 72, "workflow": "SEQUENTIAL", "hold_minutes": 60},
    {"from_hours": 0, "to_hours": 24, "workflow": "BROADCAST", "top": 5, "hold": "deadline"},
]


def with_rules(clinic: Clinic, rules: list[dict] = RULES) -> Clinic:
    settings = {**clinic.settings, lead_time.SETTING: lead_time.parse(rules)}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    return Clinic.get_by_id(clinic.id)


def test_the_table_is_kept_lowest_band_first() -> None:
    kept = lead_time.parse(RULES)
    assert [r["band"] for r in kept] == ["<24h", "24-72h", ">=72h"]
    assert kept[0]["hold_minutes"] is None and kept[0]["top"] == 5
    assert lead_time.parse(None) == []


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        (RULES[:2], "offer_rules.from_hours", "lowest band must start at from_hours = 0"),
        (RULES[1:], "offer_rules.to_hours", "highest band must have no to_hours"),
        (
            [RULES[0], {**RULES[1], "to_hours": 80}, RULES[2]],
            "offer_rules.to_hours",
            "overlap",
        ),
        ([RULES[0], {**RULES[1], "from_hours": 30}, RULES[2]], "offer_rules.from_hours", "gap"),
        ([{**RULES[0], "workflow": "LOTTERY"}], "offer_rules[0].workflow", "SEQUENTIAL or"),
        ([{**RULES[0], "hold_minutes": 2}], "offer_rules[0].hold_minutes", "5 to 10080"),
        ([{**RULES[0], "colour": "red"}], "offer_rules[0].colour", "not a setting"),
        ([{**RULES[1], "top": 3}], "offer_rules[0].top", "BROADCAST rule only"),
        ([{"from_hours": 0, "workflow": "SEQUENTIAL"}], "offer_rules[0].hold_minutes", "needs"),
        ("fast", "offer_rules", "array of tables"),
    ],
)
def test_a_bad_table_names_the_field(rules: object, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        lead_time.parse(rules)
    assert info.value.code == 4000 and info.value.field == field and words in info.value.message


def test_the_set_up_file_keeps_the_rules(clinic: Clinic) -> None:
    from tests.conftest import clinic_without_feeds

    data = {**clinic_without_feeds(), "offer_rules": RULES}
    assert [r["band"] for r in parse_setup(data)["offer_rules"]] == ["<24h", "24-72h", ">=72h"]
    apply_setup(data, STAFF)
    assert len(lead_time.rules_of(Clinic.get())) == 3
    with pytest.raises(ValidationError):
        apply_setup({**data, "offer_rules": RULES[1:]}, STAFF)
    assert len(lead_time.rules_of(Clinic.get())) == 3  # nothing changed


def test_choose_picks_the_band_and_the_desk_still_chooses(clinic: Clinic) -> None:
    clinic = with_rules(clinic)
    now = clock.now()
    soon = lead_time.choose(clinic, now + dt.timedelta(hours=5), now)
    assert (soon.workflow, soon.hold_minutes, soon.top, soon.rule.band) == (
        "BROADCAST",
        lead_time.MAX_HOLD,
        5,
        "<24h",
    )
    assert soon.why == "starts in 5h: rule <24h BROADCAST top 5, hold to deadline"
    mid = lead_time.choose(clinic, now + dt.timedelta(hours=24), now)
    assert (mid.workflow, mid.hold_minutes, mid.rule.band) == ("SEQUENTIAL", 60, "24-72h")
    far = lead_time.choose(clinic, now + dt.timedelta(hours=200), now)
    assert far.hold_minutes == 240 and far.why.endswith("rule >=72h SEQUENTIAL, hold 4h")
    hand = lead_time.choose(clinic, now + dt.timedelta(hours=5), now, workflow="SEQUENTIAL")
    assert (hand.workflow, hand.hold_minutes, hand.by_hand) == (
        "SEQUENTIAL",
        clinic.offer_hold_minutes,
        True,
    )
    assert hand.why == "starts in 5h: SEQUENTIAL chosen by hand"


def test_without_rules_the_clinic_defaults_apply(clinic: Clinic) -> None:
    now = clock.now()
    chosen = lead_time.choose(clinic, now + dt.timedelta(hours=5), now)
    assert chosen.rule is None and chosen.workflow == clinic.default_workflow
    assert chosen.hold_minutes == clinic.offer_hold_minutes
    assert "clinic default" in chosen.why


def test_a_slot_within_a_day_is_broadcast_to_the_top_with_the_hold_to_its_cutoff(
    clinic: Clinic,
) -> None:
    clinic = with_rules(clinic)
    for name in ("Ana", "Ben", "Cy", "Di", "Ed", "Fay"):
        add_entry(name, date_range_start="2026-11-20")
    # Friday 09:30 New York now; 14:00 today is under 24 h ahead
    from waitlist_tui.domain.fill.openings import add_opening

    opening = add_opening("KIM", "2026-11-20T14:00", 60, STAFF, outside_hours_ok=True)
    sent = offers.offer(opening.id, STAFF)
    assert len(sent) == 5
    cutoff = offer_time.cutoff(clinic, opening.starts_at)
    assert all(o.expires_at == cutoff for o in sent)
    record = fairness.why(opening.id).to_dict()["rankings"][0]
    assert record["workflow"] == "BROADCAST"
    assert record["why_workflow"].startswith("starts in 4h: rule <24h")


def test_a_slot_days_ahead_gets_the_band_hold_and_the_finder_says_why(clinic: Clinic) -> None:
    clinic = with_rules(clinic)
    add_entry("Ana")
    opening = monday_opening()  # Monday 09:00, some 71.5 h ahead
    found = find_for_opening(opening.id)
    assert found.choice is not None and found.choice.rule.band == "24-72h"
    assert "rule 24-72h SEQUENTIAL, hold 1h" in found.choice.why
    sent = offers.offer(opening.id, STAFF)
    assert sent[0].expires_at == sent[0].sent_at + dt.timedelta(minutes=60)


def test_applied_settings_word_the_rules_not_their_tables(clinic: Clinic) -> None:
    """What the what-if panel tells a manager after "apply": the rules as the finder words
    them, not the stored tables."""
    from waitlist_tui.domain.catalog import tuning

    with_rules(clinic)
    changes = tuning.apply_tuning(
        tuning.parse_tuning({"clinic": {"offer_hold_minutes": 45}, "offer_rules": []}), STAFF
    )
    text = tuning.changes_text(changes)
    assert "offer_rules <24h BROADCAST top 5, hold to deadline; 24-72h SEQUENTIAL" in text
    assert text.endswith("→ none")
    assert "{" not in text and "from_hours" not in text
    assert tuning.changes_text({}) == ""
