"""The clinic settings a manager tunes (hold time, workflow, broadcast size, notice, the
hours between offers to one client, quiet hours, the daily cap): read from a small settings
file, checked by the same rules as the set-up file, and written to the clinic with an audit
row. The what-if simulation (domain/whatif) applies a file to its copy of the clinic; "apply"
on the what-if screen writes the chosen one to the real clinic, through the same function.

    name = "Broadcast to 5, 1 h hold"   # optional: the label in comparisons
    [clinic]
    offer_hold_minutes = 60
    default_workflow = "BROADCAST"      # SEQUENTIAL | BROADCAST
    broadcast_top_n = 5
    min_notice = 120
    min_hours_between_offers = 4        # 0: off
    no_answer_advances = true
    [messages]
    quiet_hours = "21:00-08:00"         # "" for none
    max_offers_per_day = 3

The clinic's offer rules by lead time (fill/lead_time.py) decide the workflow, hold and
broadcast size of any opening they cover, over default_workflow and the hold above: a file
that compares workflows says `offer_rules = []` (no rules: the defaults apply everywhere,
written before any table) or gives its own `[[offer_rules]]`; a file that names none leaves
the clinic's rules as they are.

Clinic options the set-up file gains later (setup.CLINIC_OPTIONS) are tunable here too,
unless they describe the clinic rather than a policy (EXCLUDED).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waitlist_tui.domain import clock
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.catalog.setup import CLINIC_OPTIONS, parse_clinic
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import lead_time, offer_spacing, offer_time
from waitlist_tui.domain.messaging import settings as message_settings
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import Clinic
from waitlist_tui.domain.textinput import text_value

EXCLUDED = frozenset(
    {
        "region",
        "waitlist_enabled",
        "max_span_days",
        "parts_of_day",
        "event_waitlist_mode",
        "default_payment_type",
    }
)
TUNABLE = tuple(o for o in CLINIC_OPTIONS if o not in EXCLUDED)
MESSAGE_KEYS = ("quiet_hours", "max_offers_per_day")
ACTION = "clinic.tune"


@dataclass(frozen=True)
class Tuning:
    """Checked values: clinic options and message settings, only those the file names."""

    name: str
    clinic: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)
    offer_rules: list[dict[str, Any]] | None = None  # None: the clinic's rules stay

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "clinic": dict(self.clinic),
            "messages": dict(self.messages),
        }
        if self.offer_rules is not None:
            out[lead_time.SETTING] = list(self.offer_rules)
        return out


def _clinic_values(given: dict[str, Any], clinic: Clinic | None) -> dict[str, Any]:
    for key in given:
        if key not in TUNABLE:
            raise ValidationError(
                f"clinic.{key} is not a setting to tune ({', '.join(TUNABLE)})",
                field=f"clinic.{key}",
            )
    base = {"code": "X", "name": "X", "time_zone": "UTC", "region": "US"}
    if clinic is not None:
        base.update(time_zone=clinic.time_zone, region=clinic.region)
    kept = (offer_time.SETTING, offer_spacing.SETTING)  # kept in settings, checked here
    parsed = parse_clinic({**base, **{k: v for k, v in given.items() if k not in kept}})
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key == offer_time.SETTING:
            out[key] = offer_time.parse_min_notice(value)
        elif key == offer_spacing.SETTING:
            out[key] = offer_spacing.parse(value)
        else:
            out[key] = parsed.get(key, value)
    return out


def _message_values(given: dict[str, Any]) -> dict[str, Any]:
    for key in given:
        if key not in MESSAGE_KEYS:
            raise ValidationError(
                f"messages.{key} is not a setting to tune ({', '.join(MESSAGE_KEYS)})",
                field=f"messages.{key}",
            )
    checked = message_settings.parse(given, None).to_json()
    return {key: checked[key] for key in given}


def parse_tuning(data: dict[str, Any], default_name: str = "settings") -> Tuning:
    """Check a settings file's tables; nothing is written."""
    for key in data:
        if key not in ("name", "clinic", "messages", lead_time.SETTING):
            raise ValidationError(
                f"{key} is not name, [clinic], [messages] or [[{lead_time.SETTING}]]", field=key
            )
    name = text_value(data.get("name") or default_name, "name", max_len=60)
    clinic_table, messages_table = data.get("clinic", {}), data.get("messages", {})
    if not isinstance(clinic_table, dict) or not isinstance(messages_table, dict):
        raise ValidationError("[clinic] and [messages] must be tables", field="clinic")
    rules = lead_time.parse(data[lead_time.SETTING]) if lead_time.SETTING in data else None
    return Tuning(name, _clinic_values(clinic_table, None), _message_values(messages_table), rules)


def load_tuning(path: str | Path) -> Tuning:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", field="settings") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path} is not TOML: {exc}", field="settings") from None
    return parse_tuning(data, default_name=path.stem)


def current(clinic: Clinic | None = None) -> dict[str, Any]:
    """The clinic's values of every tunable setting (what a comparison's baseline shows)."""
    clinic = clinic or get_clinic()
    out: dict[str, Any] = {}
    for key in TUNABLE:
        if key == offer_time.SETTING:
            out[key] = offer_time.min_notice(clinic)
        elif key == offer_spacing.SETTING:
            out[key] = offer_spacing.hours(clinic)
        elif hasattr(Clinic, key):
            out[key] = getattr(clinic, key)
        else:
            out[key] = (clinic.settings or {}).get(key)
    out.update({k: message_settings.of(clinic).to_json()[k] for k in MESSAGE_KEYS})
    out[lead_time.SETTING] = list((clinic.settings or {}).get(lead_time.SETTING) or [])
    return out


def apply_tuning(tuning: Tuning, actor: str, clinic: Clinic | None = None) -> dict[str, Any]:
    """Write the tuning to the clinic: one transaction, one audit row with each change as
    [old, new]. Returns the changes (empty when nothing differed: no row is written)."""
    now = clock.now()
    with database.atomic():
        clinic = Clinic.get_by_id((clinic or get_clinic()).id)
        before = current(clinic)
        columns: dict[str, Any] = {}
        stored = dict(clinic.settings or {})
        for key, value in tuning.clinic.items():
            if key != offer_time.SETTING and hasattr(Clinic, key):
                columns[key] = value
            else:
                stored[key] = value
        if tuning.messages:
            section = dict(stored.get(message_settings.SECTION) or {})
            if not section:
                section = message_settings.of(clinic).to_json()
            section.update(tuning.messages)
            stored[message_settings.SECTION] = section
        after = {**before, **tuning.clinic, **tuning.messages}
        if tuning.offer_rules is not None:
            stored[lead_time.SETTING] = list(tuning.offer_rules)
            after[lead_time.SETTING] = list(tuning.offer_rules)
        changes = {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}
        if not changes:
            return {}
        Clinic.update_by(actor, now, settings=stored, version=Clinic.version + 1, **columns).where(
            Clinic.id == clinic.id
        ).execute()
        audit.record(actor, ACTION, "clinic", clinic.id, {"tuning": [None, tuning.name], **changes})
    return changes


def apply_file(path: str | Path, actor: str) -> dict[str, Any]:
    """A settings file written to the clinic ("apply" on the what-if screen): a manager's
    decision (access/roles.py), refused with 4030 for desk staff; a simulation's own copy
    applies its settings through apply_tuning and needs no role."""
    from waitlist_tui.domain.access.roles import require_manager

    require_manager(actor, "applying what-if settings")
    return apply_tuning(load_tuning(path), actor)


def changes_text(changes: dict[str, Any]) -> str:
    """apply_tuning's changes as a manager reads them: "offer_hold_minutes 120 → 60,
    offer_rules <24h BROADCAST top 5, hold to deadline; ... → none" (the rules worded as the
    finder words them, not their stored tables)."""

    def value(key: str, v: Any) -> str:
        if key == lead_time.SETTING and isinstance(v, list):
            return lead_time.rules_text(v)
        return str(v)

    return ", ".join(
        f"{key} {value(key, old)} → {value(key, new)}" for key, (old, new) in changes.items()
    )
