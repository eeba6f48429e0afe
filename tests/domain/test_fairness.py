"""The fairness record: what the desk saw when an opening was offered, stored with the offer."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF
from tests.domain.fill_helpers import add_entry, monday_opening
from tests.domain.test_entries import assert_rejected
from waitlist_tui.domain.errors import Conflict, ValidationError
from waitlist_tui.domain.fill import contact_attempts, fairness, offers
from waitlist_tui.domain.store.models import AuditEvent, Client, Clinic, OfferRanking


def _states(why: fairness.OpeningWhy) -> list[tuple[str, str, tuple[str, ...]]]:
    latest = why.rankings[-1]
    return [(r.name.split()[0], r.state, r.reasons) for r in latest.rows if r.rank]


def test_an_offer_stores_the_ranking_it_was_made_from(clinic: Clinic) -> None:
    add_entry("Ana", priority=2)
    add_entry("Ben", priority=3)
    add_entry("Cy", priority=4, preferred_days=["TUESDAY"])
    add_entry("Far", date_range_start="2026-12-01", date_range_end="2026-12-20")
    opening = monday_opening()
    sent = offers.offer(opening.id, STAFF)
    row = OfferRanking.get()
    assert (row.kind, row.offer_id, row.opening_id) == ("offer", sent[0].id, opening.id)
    why = fairness.why(str(opening.id)[:8])
    assert _states(why) == [
        ("Ana", "offered", ()),
        ("Ben", "fitted", ("ranked_below",)),
        ("Cy", "fitted", ("preference",)),
    ]
    latest = why.rankings[-1]
    assert latest.rows[0].text() == "offered to #1 Ana Test (EXACT, priority 2, 0 days)"
    far = [r for r in latest.rows if r.rank is None]
    assert [(r.name, r.reasons) for r in far] == [("Far Test", ("date_range",))]
    assert latest.rows[2].reason_text == "failed preference (day)"
    assert latest.summary().startswith("offered to #1 Ana Test (EXACT, priority 2, 0 days)")
    assert "2 more fitted, ranked below" in latest.summary()
    assert why.to_dict()["rankings"][0]["workflow"] == "SEQUENTIAL"


def test_the_next_offer_says_why_the_first_one_was_passed(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    add_entry("Ben", priority=2)
    Client.update(consent_sms=False, consent_email=False).where(
        Client.id == ana.client.id
    ).execute()
    Clinic.update(no_answer_advances=True).where(Clinic.id == clinic.id).execute()
    opening = monday_opening()
    first = offers.offer(opening.id, STAFF)[0]
    contact_attempts.log_attempt(first.id, "no_answer", STAFF)  # the clinic advances
    why = fairness.why(opening.id)
    assert len(why.rankings) == 2
    assert _states(why)[:2] == [("Ana", "not_offered", ("no_answer",)), ("Ben", "offered", ())]
    ana_row = why.rankings[-1].rows[0]
    assert (
        ana_row.text() == "#1 Ana Test not offered: no consent for any channel, phoned, no answer"
    )
    assert why.latest().startswith(
        "offered to #2 Ben Test (EXACT, priority 2, 0 days); #1 Ana Test not offered"
    )


def test_a_skip_needs_a_reason_and_takes_the_entry_out_of_the_ranking(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    add_entry("Ben", priority=2)
    opening = monday_opening()
    assert_rejected(
        lambda: fairness.skip_candidate(opening.id, ana.id, " ", STAFF),
        ValidationError,
        "reason is required",
    )
    assert OfferRanking.select().count() == 0
    skipped = fairness.skip_candidate(
        opening.id, ana.id, "asked not to be offered Mondays", "maria"
    )
    assert skipped["reason"] == "asked not to be offered Mondays"
    audit = AuditEvent.get(AuditEvent.action == "opening.skip_candidate")
    assert audit.actor == "maria" and audit.changes["entry"] == [None, str(ana.id)]
    with pytest.raises(ValidationError):  # no longer a candidate: skipped
        fairness.skip_candidate(opening.id, ana.id, "again", STAFF)
    sent = offers.offer(opening.id, STAFF)
    assert sent[0].client_name == "Ben Test"
    why = fairness.why(opening.id)
    assert _states(why) == [("Ana", "not_offered", ("desk_skip",)), ("Ben", "offered", ())]
    assert "skipped by the desk: asked not to be offered Mondays" in why.latest()
    assert why.skips[0]["by"] == "maria"


def test_an_offer_by_hand_records_who_was_passed_over(clinic: Clinic) -> None:
    add_entry("Ana", priority=1)
    ben = add_entry("Ben", priority=2)
    opening = monday_opening()
    offers.offer(opening.id, STAFF, entry_id=ben.id)
    assert _states(fairness.why(opening.id)) == [
        ("Ana", "not_offered", ("by_hand",)),
        ("Ben", "offered", ()),
    ]


def test_the_daily_cap_is_the_reason_given(clinic: Clinic) -> None:
    ana = add_entry("Ana", priority=1)
    add_entry("Ben", priority=2)
    settings = dict(clinic.settings)
    settings["messages"] = {**settings["messages"], "max_offers_per_day": 1}
    Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
    earlier = monday_opening("13:00")
    first = offers.offer(earlier.id, STAFF, entry_id=ana.id)[0]
    offers.rescind(first.id, STAFF)  # waiting again, with one offer today
    opening = monday_opening("09:00")
    sent = offers.offer(opening.id, STAFF)
    assert sent[0].client_name == "Ben Test"
    assert _states(fairness.why(opening.id))[:2] == [
        ("Ana", "not_offered", ("daily_cap",)),
        ("Ben", "offered", ()),
    ]


def test_skipping_on_a_closed_opening_is_refused(clinic: Clinic) -> None:
    ana = add_entry("Ana")
    opening = monday_opening()
    offers.withdraw_opening(opening.id, STAFF)
    with pytest.raises(Conflict):
        fairness.skip_candidate(opening.id, ana.id, "moved away", STAFF)
    assert OfferRanking.select().count() == 0


def test_a_refused_offer_writes_no_record(clinic: Clinic) -> None:
    opening = monday_opening()
    assert offers.offer(opening.id, STAFF) == []
    assert OfferRanking.select().count() == 0
    assert fairness.why(opening.id).text() == "not offered yet: no ranking recorded"
