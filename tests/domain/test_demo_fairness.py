"""The demo's fairness history: offer rules by lead time, and records that name real offers,
with skips, passed-over candidates and long waiters for the manager's report to show."""

from __future__ import annotations

from waitlist_tui.demo import build as demo
from waitlist_tui.domain.fill import fairness, lead_time
from waitlist_tui.domain.stats.fairness import fairness_report, lead_time_report
from waitlist_tui.domain.store.models import Clinic, Offer, OfferRanking


def test_the_demo_has_fairness_records_and_lead_time_bands(db) -> None:
    demo.build(entries=240, seed=5)
    assert [r.band for r in lead_time.rules_of(Clinic.get())] == ["<24h", "24-72h", ">=72h"]
    records = list(OfferRanking.select())
    assert len(records) >= 20
    for row in records:
        offered = {r["e"] for r in row.record["rows"] if r["s"] == "offered"}
        assert len(offered) == 1
        entries = {str(o.entry_id) for o in Offer.select().where(Offer.opening == row.opening_id)}
        assert offered <= entries  # the record names the opening's own offer
        ranks = [r["r"] for r in row.record["rows"]]
        assert ranks == list(range(1, len(ranks) + 1))
    report = fairness_report(wait_days=30)
    assert report["passed_over_count"] >= 3
    reasons = {p["reasons"][0] for item in report["passed_over"] for p in item["passed_over"]}
    assert "desk_skip" in reasons
    assert report["never_offered"]["count"] >= 1
    bands = lead_time_report()["bands"]
    assert sum(1 for b in bands if b["openings"]) >= 2
    assert any("skipped by the desk" in fairness.why(r.opening_id).latest() for r in records)


def test_the_demo_records_are_the_same_for_a_seed(db) -> None:
    demo.build(entries=120, seed=7)
    first = sorted(str(r.record) for r in OfferRanking.select())
    demo.build(entries=120, seed=7)
    assert sorted(str(r.record) for r in OfferRanking.select()) == first
