"""The fairness record's words: an entry's state in a ranking and why it was not offered.

Values only (no database), so that the stats, which may not import the fill wing, word the
manager's report as the fill wing words the desk's (fill/fairness.py writes the codes).
"""

from __future__ import annotations

OFFERED, NOT_OFFERED, FITTED = "offered", "not_offered", "fitted"
REASONS = {
    "declined": "declined",
    "opted_out": "opted out (STOP)",
    "no_answer": "phoned, no answer",
    "expired": "no reply in time",
    "withdrawn": "offer withdrawn",
    "live": "offered earlier, reply awaited",
    "daily_cap": "daily offer limit reached",
    "held": "held by another desk at that moment",
    "desk_skip": "skipped by the desk",
    "by_hand": "passed over: the desk offered another entry by hand",
    "preference": "failed preference",
    "ranked_below": "ranked below",
    "date_range": "outside their date range",
}
NOTES = {"no_sms": "no SMS consent", "no_consent": "no consent for any channel"}
# Passed over while waiting and fitting: what the manager's report counts as unfair-looking.
PASSED_OVER = ("daily_cap", "held", "desk_skip", "by_hand")
