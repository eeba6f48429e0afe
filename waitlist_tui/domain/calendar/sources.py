"""Calendar sources as the clinic file names them, and which service an event books.

A provider lists its calendars in the clinic file:

    [[providers.calendars]]
    source = "calendars/kim.ics"           # a file (relative to the clinic file) or a feed URL
    match = { "assessment" = "PT-EVAL", "follow" = "PT-FU" }

`match` maps text found in an event's SUMMARY or CATEGORIES (case-insensitive, the first rule
that matches wins) to a service code. An event no rule matches books "unknown service": it
still blocks the provider's time, and a cancellation of it still opens that time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from waitlist_tui.domain.calendar.fetch import checked_source, is_feed, label
from waitlist_tui.domain.calendar.ical import Occurrence
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.textinput import text_value

MAX_SOURCES = 10  # per provider
IMPORTED = "import:"  # a source brought in once by `calendar import FILE`, not by the file
MAX_RULES = 50


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    source: str  # a resolved file path or a feed URL (which may hold a private token)
    match: tuple[tuple[str, str], ...]  # (lower-case text, service code), in order

    @property
    def label(self) -> str:
        return label(self.source)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "match": [list(rule) for rule in self.match]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceSpec:
        return cls(str(data["source"]), tuple((str(t), str(c)) for t, c in data.get("match", [])))


def parse_sources(
    raw: Any, where: str, service_codes: set[str], base_dir: Path | None
) -> list[SourceSpec]:
    """A provider's `calendars` array, every field checked with its place named."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(f"{where} must be an array of tables", field=where)
    if len(raw) > MAX_SOURCES:
        raise ValidationError(f"{where} may list at most {MAX_SOURCES} calendars", field=where)
    specs = []
    for i, table in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(table, dict):
            raise ValidationError(f"{at} must be a table", field=at)
        unknown = sorted(set(table) - {"source", "match"})
        if unknown:
            raise ValidationError(
                f"{at}.{unknown[0]} is not a calendar setting (source, match)",
                field=f"{at}.{unknown[0]}",
            )
        source = checked_source(table.get("source"), f"{at}.source")
        if not is_feed(source):
            path = Path(source).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            source = str(path.resolve())
        specs.append(
            SourceSpec(source, parse_match(table.get("match"), f"{at}.match", service_codes))
        )
    return specs


def parse_match(raw: Any, where: str, service_codes: set[str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be a table of text = service code", field=where)
    if len(raw) > MAX_RULES:
        raise ValidationError(f"{where} may hold at most {MAX_RULES} rules", field=where)
    rules = []
    for text, code in raw.items():
        words = text_value(text, f"{where} key", max_len=100)
        if not words:
            raise ValidationError(f"{where}: a rule's text is empty", field=where)
        service = text_value(code, f"{where}.{words}", max_len=40).upper()
        if service not in service_codes:
            raise ValidationError(
                f"{where}.{words}: unknown service {service!r}", field=f"{where}.{words}"
            )
        rules.append((words.lower(), service))
    return tuple(rules)


def service_for(occurrence: Occurrence, rules: tuple[tuple[str, str], ...]) -> str | None:
    """The service code of the first rule whose text is in the event's SUMMARY or CATEGORIES."""
    haystack = " ".join((occurrence.summary, *occurrence.categories)).lower()
    for text, code in rules:
        if text in haystack:
            return code
    return None
