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
    "recent": "contacted too recently",
    "entry_expired": "hard rule: request expired",
    "date_range": "hard rule: outside their date range",
    "too_long": "hard rule: service longer than the slot",
    "other_service": "hard rule: the slot is for another service",
}
# The hard rules the record names one by one (fill/fairness.py), in the order they are
# checked, with the words their counts take ("9 outside their date range").
HARD_RULES = ("entry_expired", "date_range", "too_long", "other_service")
HARD_WORDS = {
    "entry_expired": "past their expiry",
    "date_range": "outside their date range",
    "too_long": "wanting a longer service",
    "other_service": "wanting another service",
}
NOTES = {"no_sms": "no SMS consent", "no_consent": "no consent for any channel"}
# Passed over while waiting and fitting: what the manager's report counts as unfair-looking.
PASSED_OVER = ("daily_cap", "recent", "held", "desk_skip", "by_hand")
