"""Short texts the desk's tables show. (Fixed dates only; reads no clock.)"""

from __future__ import annotations

import datetime as dt

from waitlist_tui.tui.formatting import date_range


def test_date_ranges_stay_short_across_a_new_year() -> None:
    assert date_range(dt.date(2026, 12, 2), dt.date(2026, 12, 16)) == "Dec 2–16"
    assert date_range(dt.date(2026, 11, 22), dt.date(2026, 12, 18)) == "Nov 22–Dec 18"
    # was "20 Dec 2026–02 Jan 2027": the widest cell of a page, so names were cut at 80 columns
    assert date_range(dt.date(2026, 12, 20), dt.date(2027, 1, 2)) == "Dec 20–Jan 2, 2027"


def test_the_queue_line_says_how_fresh_the_calendars_are_and_keeps_a_warning() -> None:
    from waitlist_tui.domain.waitlist import listing
    from waitlist_tui.tui.screens.queue_rows import summary_text

    page = listing.Page(items=[object()] * 50, total=66, limit=50, offset=0)  # type: ignore[list-item]
    spec = listing.EntryQuery()
    fresh, failed = ("calendars synced 09:30", False), ("KIM calendar failed: offline", True)
    wide = summary_text(page, spec, fresh, 118)
    assert wide.plain == (
        "1–50 of 66 waiting + offered · by priority, then longest wait · calendars synced 09:30"
    )
    assert summary_text(page, spec, fresh, 78).plain == (
        "1–50 of 66 waiting + offered · calendars synced 09:30"
    )
    assert summary_text(page, spec, fresh, 40).plain == (
        "1–50 of 66 waiting + offered · by priority, then longest wait"
    )
    warned = summary_text(page, spec, failed, 40)
    assert warned.plain.endswith("· KIM calendar failed: offline")
    assert "by priority" not in warned.plain and warned.spans[-1].style == "bold yellow"
    assert summary_text(page, spec, None, 40).plain.endswith("longest wait")
