"""The workflow that adapts to lead time: how far ahead a slot starts picks how it is offered.

A slot a week away can go to one client at a time with a long hold; a slot tomorrow morning
cannot wait for five holds in a row. The clinic's set-up file says, per band of lead time
(hours from the offer to the slot's start), which workflow, hold and broadcast size apply:

    [[offer_rules]]          # 72 h or more ahead
    from_hours = 72
    workflow = "SEQUENTIAL"
    hold_minutes = 240
    [[offer_rules]]          # 24-72 h
    from_hours = 24
    to_hours = 72
    workflow = "SEQUENTIAL"
    hold_minutes = 60
    [[offer_rules]]          # under 24 h: the top 5 at once, held until the slot's cutoff
    from_hours = 0
    to_hours = 24
    workflow = "BROADCAST"
    top = 5
    hold = "deadline"

The bands are checked as one table: the lowest starts at 0, each ends where the next begins
(no gap, no overlap) and the highest has no `to_hours`. Without `[[offer_rules]]` the clinic's
default workflow and hold apply to every lead time. A workflow chosen by hand for an opening
(or for one offer) still wins: the rule only fills in what the desk did not choose.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain import vocab
from waitlist_tui.domain.errors import ValidationError

SETTING = "offer_rules"
DEADLINE = "deadline"
MAX_HOLD = 10080  # the hold an offer may have at most (sending.py); "deadline" uses it
_KEYS = {"from_hours", "to_hours", "workflow", "hold_minutes", "hold", "top"}


@dataclass(frozen=True)
class LeadRule:
    """One band: lead times from `from_hours` (inclusive) to `to_hours` (exclusive; None: no
    upper end). `hold_minutes` None: the hold runs to the slot's cutoff (min notice)."""

    from_hours: int
    to_hours: int | None
    workflow: str
    hold_minutes: int | None
    top: int | None

    @property
    def band(self) -> str:
        """'<24h', '24-72h', '>=72h': the label stats and screens use."""
        if self.to_hours is None:
            return f">={self.from_hours}h"
        if self.from_hours == 0:
            return f"<{self.to_hours}h"
        return f"{self.from_hours}-{self.to_hours}h"

    @property
    def hold_text(self) -> str:
        return (
            "hold to deadline" if self.hold_minutes is None else f"hold {_span(self.hold_minutes)}"
        )

    def describe(self) -> str:
        """'BROADCAST top 5, hold to deadline' or 'SEQUENTIAL, hold 4h'."""
        flow = self.workflow + (f" top {self.top}" if self.top else "")
        return f"{flow}, {self.hold_text}"

    def to_json(self) -> dict[str, Any]:
        return {
            "from_hours": self.from_hours,
            "to_hours": self.to_hours,
            "workflow": self.workflow,
            "hold_minutes": self.hold_minutes,
            "top": self.top,
            "band": self.band,
        }


def rules_text(kept: list[dict[str, Any]]) -> str:
    """Kept rules (parse's tables) as words: "<24h BROADCAST top 5, hold to deadline;
    >=24h SEQUENTIAL, hold 1h", or "none"."""
    return "; ".join(f"{r.band} {r.describe()}" for r in map(_kept, kept)) or "none"


def _kept(r: dict[str, Any]) -> LeadRule:
    """A rule as parse keeps it (to_json's table), back as a LeadRule."""
    return LeadRule(r["from_hours"], r["to_hours"], r["workflow"], r["hold_minutes"], r["top"])


def _span(minutes: int) -> str:
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}"


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(
            f"{where} must be a whole number from {low} to {high}, got {value!r}", field=where
        )
    return value


def _rule(raw: Any, i: int) -> LeadRule:
    where = f"{SETTING}[{i}]"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be a table", field=where)
    for key in raw:
        if key not in _KEYS:
            raise ValidationError(
                f"{where}.{key} is not a setting ({', '.join(sorted(_KEYS))})",
                field=f"{where}.{key}",
            )
    if "from_hours" not in raw:
        raise ValidationError(f"{where}.from_hours is required", field=f"{where}.from_hours")
    low = _whole(raw["from_hours"], f"{where}.from_hours", 0, 8760)
    high = None
    if raw.get("to_hours") is not None:
        high = _whole(raw["to_hours"], f"{where}.to_hours", 1, 8760)
        if high <= low:
            raise ValidationError(
                f"{where}.to_hours must be greater than from_hours ({low})",
                field=f"{where}.to_hours",
            )
    flow = raw.get("workflow")
    if not isinstance(flow, str) or flow.strip().upper() not in vocab.WORKFLOWS:
        raise ValidationError(
            f"{where}.workflow must be SEQUENTIAL or BROADCAST", field=f"{where}.workflow"
        )
    flow = flow.strip().upper()
    if "hold" in raw and "hold_minutes" in raw:
        raise ValidationError(
            f'{where}: give hold_minutes or hold = "deadline", not both', field=f"{where}.hold"
        )
    hold: int | None
    if "hold" in raw:
        if raw["hold"] != DEADLINE:
            raise ValidationError(
                f'{where}.hold must be "deadline" (or give hold_minutes)', field=f"{where}.hold"
            )
        hold = None
    elif "hold_minutes" in raw:
        hold = _whole(raw["hold_minutes"], f"{where}.hold_minutes", 5, MAX_HOLD)
    else:
        raise ValidationError(
            f'{where} needs hold_minutes or hold = "deadline"', field=f"{where}.hold_minutes"
        )
    top = None
    if raw.get("top") is not None:
        if flow != vocab.BROADCAST:
            raise ValidationError(f"{where}.top is for a BROADCAST rule only", field=f"{where}.top")
        top = _whole(raw["top"], f"{where}.top", 1, 50)
    return LeadRule(low, high, flow, hold, top)


def parse(raw: Any) -> list[dict[str, Any]]:
    """Check `[[offer_rules]]` as one table (ValidationError 4000 naming the field); the
    rules as kept in clinic.settings, lowest band first. None/empty: no rules."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(f"{SETTING} must be an array of tables", field=SETTING)
    rules = sorted((_rule(r, i) for i, r in enumerate(raw)), key=lambda r: r.from_hours)
    if not rules:
        return []
    if rules[0].from_hours != 0:
        raise ValidationError(
            f"{SETTING}: the lowest band must start at from_hours = 0 "
            f"(lead times under {rules[0].from_hours}h have no rule)",
            field=f"{SETTING}.from_hours",
        )
    for before, after in itertools.pairwise(rules):
        if before.to_hours is None or before.to_hours > after.from_hours:
            raise ValidationError(
                f"{SETTING}: bands {before.band} and {after.band} overlap",
                field=f"{SETTING}.to_hours",
            )
        if before.to_hours < after.from_hours:
            raise ValidationError(
                f"{SETTING}: gap between {before.to_hours}h and {after.from_hours}h",
                field=f"{SETTING}.from_hours",
            )
    if rules[-1].to_hours is not None:
        raise ValidationError(
            f"{SETTING}: the highest band must have no to_hours (lead times of "
            f"{rules[-1].to_hours}h or more have no rule)",
            field=f"{SETTING}.to_hours",
        )
    return [r.to_json() for r in rules]


def rules_of(clinic: Any) -> list[LeadRule]:
    """The clinic's kept rules, lowest band first (none: the defaults apply)."""
    return [_kept(r) for r in (clinic.settings or {}).get(SETTING) or []]


def lead_hours(slot_start: dt.datetime, now: dt.datetime) -> float:
    return max(0.0, (slot_start - now).total_seconds() / 3600)


def band_of(rules: list[LeadRule], hours: float) -> LeadRule | None:
    for rule in rules:
        if hours >= rule.from_hours and (rule.to_hours is None or hours < rule.to_hours):
            return rule
    return None


@dataclass(frozen=True)
class Chosen:
    """How an offer made now is made, and why: the rule that applied (None: the clinic's
    defaults), or that the desk chose another workflow by hand."""

    workflow: str
    hold_minutes: int
    top: int
    rule: LeadRule | None
    by_hand: bool
    hours: float

    @property
    def why(self) -> str:
        """'starts in 30h: rule 24-72h SEQUENTIAL, hold 1h' (what the finder shows)."""
        ahead = f"starts in {self.hours:.0f}h"
        if self.by_hand:
            return f"{ahead}: {self.workflow} chosen by hand"
        if self.rule is None:
            return f"{ahead}: clinic default {self.workflow}, hold {_span(self.hold_minutes)}"
        return f"{ahead}: rule {self.rule.band} {self.rule.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "hold_minutes": self.hold_minutes,
            "top": self.top,
            "band": self.rule.band if self.rule else None,
            "rule": self.rule.to_json() if self.rule else None,
            "by_hand": self.by_hand,
            "lead_hours": round(self.hours, 1),
            "why": self.why,
        }


def choose(
    clinic: Any,
    slot_start: dt.datetime,
    now: dt.datetime,
    workflow: str | None = None,
    hold_minutes: int | None = None,
    top: int | None = None,
) -> Chosen:
    """The workflow, hold and broadcast size of an offer made `now`: what the caller chose,
    else the lead-time rule's, else the clinic's defaults. A rule's "deadline" hold is the
    longest hold, which the slot's cutoff then caps (offer_time.terms)."""
    hours = lead_hours(slot_start, now)
    rule = band_of(rules_of(clinic), hours)
    auto = str(rule.workflow if rule else clinic.default_workflow).upper()
    flow = str(workflow or auto).upper()
    if hold_minutes is not None:
        hold = int(hold_minutes)
    elif rule is not None and flow == rule.workflow:
        hold = MAX_HOLD if rule.hold_minutes is None else rule.hold_minutes
    else:
        hold = clinic.offer_hold_minutes
    n = top if top is not None else (rule.top if rule and rule.top else clinic.broadcast_top_n)
    # By hand: a workflow other than the one the rule (or the clinic's default) gives; the
    # next SEQUENTIAL offer after a decline names its workflow but chose nothing.
    return Chosen(flow, hold, int(n), rule, flow != auto, hours)
