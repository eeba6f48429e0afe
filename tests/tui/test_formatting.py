"""Short texts the desk's tables show. (Fixed dates only; reads no clock.)"""

from __future__ import annotations

import datetime as dt

from waitlist_tui.tui.formatting import date_range


def test_date_ranges_stay_short_across_a_new_year() -> None:
    assert date_range(dt.date(2026, 12, 2), dt.date(2026, 12, 16)) == "Dec 2–16"
    assert date_range(dt.date(2026, 11, 22), dt.date(2026, 12, 18)) == "Nov 22–Dec 18"
    # was "20 Dec 2026–02 Jan 2027": the widest cell of a page, so names were cut at 80 columns
    assert date_range(dt.date(2026, 12, 20), dt.date(2027, 1, 2)) == "Dec 20–Jan 2, 2027"
