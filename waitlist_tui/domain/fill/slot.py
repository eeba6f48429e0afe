"""A slot: a provider's block of time, parsed once and carried as a value.

The desk types a slot (provider code, a date, a wall-clock time, minutes), picks a free one
from an entry's list, or points at an opening. Each is read into a `Slot` once (openings.py
checks it against the clinic's rules) and travels as is: no layer turns it back into text
to parse it again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


def utc(moment: dt.datetime) -> dt.datetime:
    """A stdlib UTC datetime, as rows read back hold (drivers bind no pendulum dates)."""
    if moment.tzinfo is None:
        raise ValueError("a slot's times must be aware (UTC)")
    return dt.datetime.fromtimestamp(moment.timestamp(), dt.UTC)


@dataclass(frozen=True)
class Slot:
    """[start, end) of one provider in UTC, and the service it is for (None: any service the
    provider offers that fits in it)."""

    provider_id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    service_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)
