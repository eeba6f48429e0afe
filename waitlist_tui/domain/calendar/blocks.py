"""A source's events cut into their UIDs' blocks, so a re-sync parses only what changed.

icalendar parses and recurring-ical-events expands ~5,000 events in about two seconds; a feed
polled every few minutes mostly comes back with a handful of events changed. The text is cut
at its top-level BEGIN:VEVENT / END:VEVENT lines (nothing is read from inside a block but its
UID), each UID's blocks (a series with its RECURRENCE-ID overrides) hashed together, and the
hashes kept with the source. The next read of the same window gives to the libraries only the
UIDs whose blocks changed, with everything around them (VTIMEZONEs, X-WR-TIMEZONE): their
occurrences are exactly those the whole file gives for these UIDs, since an event's expansion
depends on nothing but its own blocks and the calendar's zones. Anything the cut cannot be
sure of (no UID on a line of its own, a second VCALENDAR, unbalanced blocks) returns None, and
the whole text is read by the libraries, which then say what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

READER = "1"  # bump when reading an event changes: every cache is read again once
_FOLD = re.compile(r"\r?\n[ \t]")
_UID = re.compile(r"UID(?:;[^:]*)?:(.*)$", re.IGNORECASE)


@dataclass
class Cut:
    """The text outside every VEVENT, and each UID's blocks with their first lines."""

    head: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)  # uid -> its blocks' text
    lines: dict[str, list[int]] = field(default_factory=dict)  # uid -> BEGIN:VEVENT line numbers
    order: list[str] = field(default_factory=list)  # uids as they first appear

    def hashes(self) -> dict[str, str]:
        """Each UID's digest, whatever the order of its blocks in the file."""
        return {
            uid: hashlib.sha256(_plain(sorted(blocks)).encode()).hexdigest()[:20]
            for uid, blocks in self.groups.items()
        }

    def text_of(self, uids: set[str]) -> tuple[str, list[int]]:
        """A calendar of just these UIDs' events (in file order) and their BEGIN lines."""
        body: list[str] = []
        lines: list[int] = []
        for uid in self.order:
            if uid in uids:
                body.extend(self.groups[uid])
                lines.extend(self.lines[uid])
        close = self.closing()
        return "".join(self.head[:close]) + "".join(body) + "".join(self.head[close:]), lines

    def closing(self) -> int:
        """Where END:VCALENDAR is in the head (blank lines may trail it)."""
        n = len(self.head) - 1
        while n > 0 and not self.head[n].strip():
            n -= 1
        return n


def cut(text: str) -> Cut | None:
    """The text's blocks by UID, or None when the text is not plainly one VCALENDAR of
    VEVENTs with a UID each (the libraries then read it whole)."""
    head: list[str] = []
    result = Cut(head)
    block: list[str] | None = None
    start = 0
    depth = 0
    calendars = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        word = line.strip().upper()
        if block is not None:
            block.append(line)
            if word.startswith("BEGIN:"):
                depth += 1
            elif word.startswith("END:"):
                depth -= 1
                if depth == 0:
                    if word != "END:VEVENT":
                        return None
                    uid = _uid_of("".join(block))
                    if uid is None:
                        return None
                    if uid not in result.groups:
                        result.order.append(uid)
                        result.groups[uid] = []
                        result.lines[uid] = []
                    result.groups[uid].append("".join(block))
                    result.lines[uid].append(start)
                    block = None
            continue
        if word == "BEGIN:VEVENT":
            block, start, depth = [line], number, 1
            continue
        if word == "BEGIN:VCALENDAR":
            calendars += 1
        head.append(line)
    if block is not None or calendars != 1 or not head:
        return None
    if head[result.closing()].strip().upper() != "END:VCALENDAR":
        return None
    return result


def _uid_of(block: str) -> str | None:
    """The event's own UID (a VALARM inside may carry one of its own, as Apple's do)."""
    found: list[str] = []
    depth = 0
    for line in _FOLD.sub("", block).splitlines():
        word = line.strip().upper()
        if word.startswith("BEGIN:"):
            depth += 1
        elif word.startswith("END:"):
            depth -= 1
        elif depth == 1:
            match = _UID.match(line)
            if match:
                found.append(match.group(1).strip())
    if len(found) != 1 or not found[0]:
        return None
    return found[0]


def _plain(lines: list[str]) -> str:
    """The lines without their line ends or blank lines: CRLF or LF, a trailing newline,
    change nothing that is read."""
    return "\n".join(kept for text in lines for kept in text.splitlines() if kept.strip())


def context_of(cut_: Cut, *parts: Any) -> str:
    """What every event's reading depends on besides its own blocks: the calendar around
    them, the clinic's zone, the window, the service rules (and this reader's version)."""
    payload = json.dumps([READER, _plain(cut_.head), *parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Known:
    """What the last full or partial read of a source left for the next one."""

    day: str  # the clinic day whose window was read
    context: str
    hashes: dict[str, str]

    def to_json(self) -> str:
        return json.dumps({"day": self.day, "context": self.context, "hashes": self.hashes})

    @classmethod
    def from_json(cls, text: str | None) -> Known | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(str(raw["day"]), str(raw["context"]), dict(raw["hashes"]))
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable cache is no cache: the source is read whole
