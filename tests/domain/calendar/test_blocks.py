"""A re-sync of the same window parses only the events whose blocks changed: what it leaves in
the appointments table is what a whole read of the same text leaves, the events it reads are
only the changed ones, and an error in one of them still names its line in the source. Both
backends (through `db`); the clock is frozen at Fri 20 Nov 2026 09:30 in New York."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import STAFF
from tests.domain.calendar.test_sync import (
    AWAY,
    CANCEL_30TH,
    MEETING,
    MOVE_7TH,
    SERIES,
    feed,
    rewrite,
)
from waitlist_tui.domain.calendar import blocks, sync
from waitlist_tui.domain.calendar.sources import SourceSpec
from waitlist_tui.domain.errors import Unprocessable
from waitlist_tui.domain.store.models import Appointment, CalendarSource, Clinic, Provider

APPLE_ALARM = """BEGIN:VEVENT
UID:apple-1@example.com
DTSTART;TZID=America/New_York:20261126T140000
DTEND;TZID=America/New_York:20261126T143000
SUMMARY:Follow-up - Bo
BEGIN:VALARM
UID:alarm-9
X-WR-ALARMUID:alarm-9
TRIGGER:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
"""


def single(n: int, day: int, hour: int, *, status: str = "") -> str:
    extra = f"STATUS:{status}\n" if status else ""
    return (
        f"BEGIN:VEVENT\nUID:single-{n}@example.com\n"
        f"DTSTART;TZID=America/New_York:202612{day:02d}T{hour:02d}0000\n"
        f"DURATION:PT45M\nSUMMARY:Follow-up {n}\n{extra}END:VEVENT\n"
    )


def make_source(tmp_path: Path, name: str, text: str, rules=(("follow", "PT-FU"),)):
    path = tmp_path / name
    path.write_text(text)
    spec = SourceSpec(str(path), rules)
    return CalendarSource.create_by(
        STAFF,
        dt.datetime.now(dt.UTC),
        provider=Provider.get(Provider.code == "KIM").id,
        source=str(path),
        label=name,
        spec=json.dumps(spec.to_json()),
    )


def rows_of(source: CalendarSource) -> list[tuple]:
    query = Appointment.select().where(Appointment.calendar_source == source.id)
    return sorted(
        (a.calendar_key, a.starts_at, a.ends_at, a.service_id, a.summary, a.away, a.status)
        for a in query
    )


def sync_again(source: CalendarSource) -> sync.SyncResult:
    return sync.sync_source(CalendarSource.get_by_id(source.id), STAFF)


def test_cut_groups_each_uids_blocks_and_keeps_what_is_around_them() -> None:
    text = feed(SERIES, MEETING, CANCEL_30TH, APPLE_ALARM)
    pieces = blocks.cut(text)
    assert pieces is not None
    assert pieces.order == ["series-1@example.com", "meeting-1@example.com", "apple-1@example.com"]
    assert len(pieces.groups["series-1@example.com"]) == 2  # the series and its override
    assert "BEGIN:VTIMEZONE" in "".join(pieces.head)
    part, lines = pieces.text_of({"series-1@example.com"})
    assert "meeting" not in part and part.count("BEGIN:VEVENT") == 2
    assert part.startswith("BEGIN:VCALENDAR") and part.rstrip().endswith("END:VCALENDAR")
    at = text.splitlines()
    assert [at[n - 1] for n in lines] == ["BEGIN:VEVENT", "BEGIN:VEVENT"]


@pytest.mark.parametrize(
    "text",
    [
        feed("BEGIN:VEVENT\nSUMMARY:no uid\nEND:VEVENT\n"),
        feed(MEETING) + feed(SERIES),  # two calendars
        feed("BEGIN:VEVENT\nUID:open\n"),  # never ended
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VTODO\nEND:VCALENDAR\n",
    ],
    ids=["no-uid", "two-calendars", "unbalanced", "mismatched-end"],
)
def test_cut_gives_up_on_what_it_cannot_be_sure_of(text: str) -> None:
    assert blocks.cut(text) is None


def test_a_folded_uid_is_read_whole() -> None:
    text = feed(MEETING.replace("UID:meeting-1@example.com", "UID:meeting-1@exam\r\n ple.com"))
    pieces = blocks.cut(text)
    assert pieces is not None and pieces.order == ["meeting-1@example.com"]


def test_a_resync_reads_only_the_changed_events_and_ends_where_a_whole_read_ends(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = [SERIES, MEETING, AWAY, APPLE_ALARM] + [
        single(n, 1 + n % 20, 9 + n % 8) for n in range(30)
    ]
    source = make_source(tmp_path, "kim.ics", feed(*base))
    first = sync_again(source)
    assert first.added == 37 and CalendarSource.get_by_id(source.id).blocks
    read_uids: list[set[str]] = []
    real = sync.read_text

    def spying(text: str, *args, **kwargs):
        read_uids.append({uid for uid in (blocks.cut(text) or blocks.Cut([])).order})
        return real(text, *args, **kwargs)

    monkeypatch.setattr(sync, "read_text", spying)
    edits = [
        # two bookings cancelled, one moved, one deleted, one added, a series override
        [
            *base[:4],
            single(0, 1, 9, status="CANCELLED"),
            single(1, 2, 10, status="CANCELLED"),
            single(2, 3, 15),
            *base[7:20],
            *base[21:],
            single(99, 4, 12),
            CANCEL_30TH,
        ],
        # the override moves a member instead; the meeting goes
        [SERIES, MOVE_7TH, AWAY, APPLE_ALARM, *base[4:]],
        # nothing changed but the order of the events
        [APPLE_ALARM, MOVE_7TH, AWAY, *reversed(base[4:]), SERIES],
    ]
    expected_reads = [
        {
            "single-0@example.com",
            "single-1@example.com",
            "single-2@example.com",
            "single-99@example.com",
            "series-1@example.com",
        },
        {
            "series-1@example.com",
            "single-0@example.com",
            "single-1@example.com",
            "single-2@example.com",
            "single-16@example.com",
        },
        set(),
    ]
    for n, (events, wanted) in enumerate(zip(edits, expected_reads, strict=True)):
        read_uids.clear()
        rewrite(source, feed(*events))
        result = sync_again(source)
        assert read_uids == ([wanted] if wanted else []), n
        # the same text read whole by a source of its own gives the same rows
        whole = make_source(tmp_path, f"whole-{n}.ics", feed(*events))
        sync_again(whole)
        mine = [row[1:] for row in rows_of(source) if row[-1] == "booked"]
        theirs = [row[1:] for row in rows_of(whole) if row[-1] == "booked"]
        assert mine == theirs, n
        assert result.added + result.updated + result.unchanged <= len(mine) + 1
        Appointment.delete().where(Appointment.calendar_source == whole.id).execute()
        whole.delete_instance()
    assert rows_of(source)  # the last edit wrote nothing: same rows, nothing read


def test_counts_of_a_partial_read_cover_the_events_not_read(clinic: Clinic, tmp_path: Path) -> None:
    events = [single(n, 1 + n % 20, 9 + n % 8) for n in range(10)]
    source = make_source(tmp_path, "kim.ics", feed(*events))
    sync_again(source)
    rewrite(source, feed(*events[:9], single(9, 1, 9, status="CANCELLED")))
    result = sync_again(source)
    assert (result.added, result.updated, result.cancelled, result.unchanged) == (0, 0, 1, 9)
    assert result.openings_created == 1


def test_an_error_in_a_changed_event_names_its_line_in_the_source(
    clinic: Clinic, tmp_path: Path
) -> None:
    events = [MEETING, AWAY, SERIES]
    source = make_source(tmp_path, "kim.ics", feed(*events))
    sync_again(source)
    before = rows_of(source)
    broken = SERIES.replace(
        "DTEND;TZID=America/New_York:20261123T093000\n",
        "DTEND;TZID=America/New_York:20261122T093000\n",
    )
    text = feed(MEETING, AWAY, broken)
    rewrite(source, text)
    line = text.splitlines().index("UID:series-1@example.com")  # BEGIN:VEVENT's line number
    with pytest.raises(
        Unprocessable, match=rf"DTEND is before DTSTART \(UID series-1@example.com, line {line}\)"
    ):
        sync_again(source)
    assert rows_of(source) == before
    assert CalendarSource.get_by_id(source.id).blocks is not None


def test_new_rules_or_a_new_day_read_the_whole_source_again(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.timetravel import move_to
    from waitlist_tui.domain import clock

    source = make_source(tmp_path, "kim.ics", feed(SERIES, MEETING), rules=())
    sync_again(source)
    assert {row[3] for row in rows_of(source)} == {None}
    spec = SourceSpec(source.source, (("follow", "PT-FU"),))
    CalendarSource.update(spec=json.dumps(spec.to_json())).where(
        CalendarSource.id == source.id
    ).execute()
    rewrite(source, feed(SERIES, MEETING))
    result = sync_again(source)
    assert result.updated == 4  # the series' four members now map to PT-FU
    calls: list[str] = []
    real = sync.read_text
    monkeypatch.setattr(
        sync, "read_text", lambda text, *a, **k: calls.append(text) or real(text, *a, **k)
    )
    move_to(clock.now() + dt.timedelta(days=1))
    rewrite(source, feed(SERIES, MEETING))
    sync_again(source)
    assert len(calls) == 1 and "meeting-1" in calls[0] and "series-1" in calls[0]
