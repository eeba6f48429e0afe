"""Clinic set-up from a TOML file: clinic, services, providers (hours, services, time off).

Running it again updates by code, so the file can be the clinic's source of truth.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pendulum

from waitlist_tui.domain import clock, vocab
from waitlist_tui.domain.calendar.fetch import label
from waitlist_tui.domain.calendar.sources import IMPORTED, parse_sources
from waitlist_tui.domain.catalog.clinics import PAYMENT_SETTING
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import lead_time, offer_spacing, offer_time
from waitlist_tui.domain.flags import parse_bool
from waitlist_tui.domain.store import audit
from waitlist_tui.domain.store.base import AuditedModel
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import (
    CalendarSource,
    Clinic,
    Provider,
    ProviderService,
    Service,
    TimeOff,
)
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import parse_hhmm, parse_instant

CLINIC_OPTIONS = (
    "region",
    "waitlist_enabled",
    "max_span_days",
    "offer_hold_minutes",
    "default_workflow",
    "broadcast_top_n",
    "parts_of_day",
    "event_waitlist_mode",
    "no_answer_advances",
    "min_notice",  # kept in clinic.settings (offer_time.py)
    "min_hours_between_offers",  # kept in clinic.settings (fill/offer_spacing.py)
    "default_payment_type",  # kept in clinic.settings (clinics.py)
    "locale",  # kept in clinic.settings: dates in messages (messaging/local_dates.py)
)


def _req(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table or table[key] in (None, ""):
        raise ValidationError(f"{where}.{key} is required", field=f"{where}.{key}")
    return table[key]


def _str(value: Any, field: str, max_len: int = 32) -> str:
    """A TOML string (a list, table or number where text belongs is refused, never str()-ed)."""
    return text_value(value, field, max_len=max_len)


def _table(data: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be a table", field=field)
    return value


def _array(data: dict[str, Any], key: str, field: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{field} must be an array", field=field)
    return value


def _tables(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """An array of tables ([[services]]); each item must be a table."""
    items = _array(data, key, key)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError(f"{key}[{i}] must be a table", field=f"{key}[{i}]")
    return items


def _int(table: dict[str, Any], key: str, where: str, low: int, high: int, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(
            f"{where}.{key} must be a whole number from {low} to {high}", field=f"{where}.{key}"
        )
    return value


def _window(text: Any, where: str) -> list[str]:
    parts = _str(text, where).split("-")
    if len(parts) != 2:
        raise ValidationError(f"{where} must look like 09:00-12:00, got {text!r}", field=where)
    start, end = (parse_hhmm(p.strip(), where) for p in parts)
    if start >= end:
        raise ValidationError(f"{where} {text!r}: start must be before end", field=where)
    return [parts[0].strip().zfill(5), parts[1].strip().zfill(5)]


def parse_clinic(data: dict[str, Any]) -> dict[str, Any]:
    where = "clinic"
    code = _str(_req(data, "code", where), "clinic.code").upper()
    tz = _str(_req(data, "time_zone", where), "clinic.time_zone", 64)
    try:
        pendulum.timezone(tz)
    except Exception:
        raise ValidationError(
            f"clinic.time_zone {tz!r} is not a known time zone", field="clinic.time_zone"
        ) from None
    import phonenumbers  # on first use only: it weighs on every start of the app

    region = _str(data.get("region", "US"), "clinic.region").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"clinic.region {region!r} is not a phone region", field="clinic.region"
        )
    workflow = _str(data.get("default_workflow", vocab.SEQUENTIAL), "clinic.default_workflow")
    workflow = workflow.upper()
    if workflow not in vocab.WORKFLOWS:
        raise ValidationError(
            "clinic.default_workflow must be SEQUENTIAL or BROADCAST",
            field="clinic.default_workflow",
        )
    mode = _str(data.get("event_waitlist_mode", "enroll"), "clinic.event_waitlist_mode").lower()
    if mode not in ("enroll", "offer"):
        raise ValidationError(
            "clinic.event_waitlist_mode must be enroll or offer", field="clinic.event_waitlist_mode"
        )
    parts = dict(vocab.DEFAULT_PARTS_OF_DAY)
    for name, window in _table(data, "parts_of_day", "clinic.parts_of_day").items():
        if name.upper() not in vocab.DEFAULT_PARTS_OF_DAY:
            raise ValidationError(
                f"clinic.parts_of_day.{name} is not MORNING, AFTERNOON or EVENING",
                field=f"clinic.parts_of_day.{name}",
            )
        parts[name.upper()] = _window(
            "-".join(map(str, window)) if isinstance(window, list) else window,
            f"clinic.parts_of_day.{name}",
        )
    return {
        "code": code,
        "name": _str(_req(data, "name", where), "clinic.name", 200),
        "time_zone": tz,
        "region": region,
        "waitlist_enabled": parse_bool(
            data.get("waitlist_enabled", True), "clinic.waitlist_enabled"
        ),
        "max_span_days": _int(data, "max_span_days", where, 1, 366, 30),
        "offer_hold_minutes": _int(data, "offer_hold_minutes", where, 5, 10080, 120),
        "default_workflow": workflow,
        "broadcast_top_n": _int(data, "broadcast_top_n", where, 1, 50, 3),
        "parts_of_day": parts,
        "event_waitlist_mode": mode,
        "no_answer_advances": parse_bool(
            data.get("no_answer_advances", True), "clinic.no_answer_advances"
        ),
    }


def parse_service(data: dict[str, Any], i: int) -> dict[str, Any]:
    where = f"services[{i}]"
    label = _str(data.get("appointment_type", vocab.FOLLOW_UP), f"{where}.appointment_type")
    label = label.upper().replace("-", " ")
    if label not in vocab.APPOINTMENT_TYPE_LABELS:
        raise ValidationError(
            f"{where}.appointment_type must be INITIAL_EVAL or FOLLOW_UP",
            field=f"{where}.appointment_type",
        )
    kind = _str(data.get("kind", "appointment"), f"{where}.kind").lower()
    if kind not in ("appointment", "event"):
        raise ValidationError(f"{where}.kind must be appointment or event", field=f"{where}.kind")
    return {
        "code": _str(_req(data, "code", where), f"{where}.code").upper(),
        "name": _str(_req(data, "name", where), f"{where}.name", 200),
        "duration_minutes": _int(data, "duration_minutes", where, 5, 720, 60),
        "appointment_type": vocab.APPOINTMENT_TYPE_LABELS[label],
        "kind": kind,
    }


def parse_provider(
    data: dict[str, Any], i: int, service_codes: set[str], tz: str, base_dir: Path | None = None
) -> dict[str, Any]:
    where = f"providers[{i}]"
    hours: dict[str, list[list[str]]] = {}
    for day, windows in _table(data, "hours", f"{where}.hours").items():
        if day.upper() not in vocab.DAYS:
            raise ValidationError(
                f"{where}.hours.{day} is not a day of the week", field=f"{where}.hours.{day}"
            )
        at = f"{where}.hours.{day}"
        hours[day.upper()] = sorted(_window(w, at) for w in _array({day: windows}, day, at))
    offered = [
        _str(c, f"{where}.services").upper() for c in _array(data, "services", f"{where}.services")
    ]
    for code in offered:
        if code not in service_codes:
            raise ValidationError(
                f"{where}.services: unknown service {code!r}", field=f"{where}.services"
            )
    time_off = []
    for j, block in enumerate(_array(data, "time_off", f"{where}.time_off")):
        at = f"{where}.time_off[{j}]"
        if not isinstance(block, dict):
            raise ValidationError(f"{at} must be a table", field=at)
        start = parse_instant(_req(block, "start", at), tz, f"{at}.start")
        end = parse_instant(_req(block, "end", at), tz, f"{at}.end")
        if end <= start:
            raise ValidationError(f"{at}.end must be after start", field=f"{at}.end")
        reason = text_value(block.get("reason"), f"{at}.reason", max_len=200)
        time_off.append({"starts_at": start, "ends_at": end, "reason": reason})
    return {
        "code": _str(_req(data, "code", where), f"{where}.code").upper(),
        "name": _str(_req(data, "name", where), f"{where}.name", 200),
        "weekly_hours": hours,
        "services": offered,
        "time_off": time_off,
        "calendars": [
            spec.to_json()
            for spec in parse_sources(
                data.get("calendars"), f"{where}.calendars", service_codes, base_dir
            )
        ],
    }


def parse_setup(data: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """Check the whole file; a [messages] templates file is read relative to base_dir."""
    from waitlist_tui.domain.messaging import consent, local_dates
    from waitlist_tui.domain.messaging import settings as message_settings

    clinic = parse_clinic(_table(data, "clinic", "clinic"))
    services = [parse_service(s, i) for i, s in enumerate(_tables(data, "services"))]
    codes = {s["code"] for s in services}
    providers = [
        parse_provider(p, i, codes, clinic["time_zone"], base_dir)
        for i, p in enumerate(_tables(data, "providers"))
    ]
    messages = message_settings.parse(_table(data, "messages", "messages"), base_dir)
    return {
        "clinic": clinic,
        "services": services,
        "providers": providers,
        "messages": messages.to_json(),
        "consent": consent.parse(data.get("consent")).to_json(),
        "min_notice": offer_time.parse_min_notice((data.get("clinic") or {}).get("min_notice")),
        offer_spacing.SETTING: offer_spacing.parse(
            (data.get("clinic") or {}).get(offer_spacing.SETTING)
        ),
        "default_payment_type": _payment_default(data),
        "locale": local_dates.parse_locale((data.get("clinic") or {}).get("locale")),
        "calendar": parse_calendar_settings(data.get("calendar")),
        "backup": parse_backup_settings(data.get("backup")),
        RETENTION_SETTING: parse_retention_settings(data.get(RETENTION_SETTING)),
        lead_time.SETTING: lead_time.parse(data.get(lead_time.SETTING)),
    }


def _payment_default(data: dict[str, Any]) -> str:
    value = (data.get("clinic") or {}).get("default_payment_type", vocab.SELF_PAY)
    if not isinstance(value, str) or value.strip().upper() not in vocab.PAYMENT_TYPES:
        raise ValidationError(
            "clinic.default_payment_type must be SELF_PAY or INSURANCE_PAY",
            field="clinic.default_payment_type",
        )
    return value.strip().upper()


def load_file(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ValidationError(f"setup file {path} not found", field="file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"setup file {path} is not valid TOML: {exc}", field="file") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"setup file {path} is not UTF-8 (byte {exc.start})", field="file"
        ) from None
    except RecursionError:
        raise ValidationError(f"setup file {path} nests too deeply", field="file") from None
    except OSError as exc:
        raise ValidationError(
            f"cannot read setup file {path}: {exc.strerror}", field="file"
        ) from None


def _upsert(model: Any, where: Any, values: dict[str, Any], now: Any) -> tuple[Any, bool]:
    row = model.get_or_none(where)
    if row is None:
        return model.create(**values), True
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        extra = {"version": model.version + 1} if hasattr(model, "version") else {}
        if issubclass(model, AuditedModel):
            extra.update(model.stamps(None, now))
        model.update(**changed, **extra).where(model.id == row.id).execute()
        row = model.get_by_id(row.id)
    return row, False


def apply_setup(data: dict[str, Any], actor: str, base_dir: Path | None = None) -> dict[str, Any]:
    """Validate everything first, then write it all in one transaction. `warnings`: SMS
    templates that go as UCS-2 or run long (messaging/sms_fit.py); set up anyway."""
    from waitlist_tui.domain.messaging import sms_fit

    parsed = parse_setup(data, base_dir)
    now = clock.now()
    with database.atomic():
        c = parsed["clinic"]
        clinic = Clinic.get_or_none(Clinic.code == c["code"])
        created = clinic is None
        if clinic is None:
            clinic = Clinic.create_by(actor, now, **c)
        else:
            clinic, _ = _upsert(Clinic, Clinic.code == c["code"], c, now)
        settings = {
            **(clinic.settings or {}),
            "messages": parsed["messages"],
            "consent": parsed["consent"],
            offer_time.SETTING: parsed["min_notice"],
            offer_spacing.SETTING: parsed[offer_spacing.SETTING],
            PAYMENT_SETTING: parsed["default_payment_type"],
            "calendar": parsed["calendar"],
            "backup": parsed["backup"],
            RETENTION_SETTING: parsed[RETENTION_SETTING],
            lead_time.SETTING: parsed[lead_time.SETTING],
        }
        settings.pop("locale", None)  # kept only when the file names one
        if parsed["locale"]:
            settings["locale"] = parsed["locale"]
        old_settings = clinic.settings or {}
        settings_changed = {
            f"settings.{k}": [old_settings.get(k), v]
            for k, v in settings.items()
            if old_settings.get(k) != v and not created
        }
        if "locale" in old_settings and "locale" not in settings:
            settings_changed["settings.locale"] = [old_settings["locale"], None]
        if settings != clinic.settings:
            Clinic.update(settings=settings).where(Clinic.id == clinic.id).execute()
            clinic.settings = settings
        by_code = {}
        for s in parsed["services"]:
            service, _ = _upsert(
                Service,
                (Service.clinic == clinic) & (Service.code == s["code"]),
                {**s, "clinic": clinic},
                now,
            )
            by_code[s["code"]] = service
        for s in Service.select().where(Service.clinic == clinic):
            by_code.setdefault(s.code, s)
        for p in parsed["providers"]:
            provider, _ = _upsert(
                Provider,
                (Provider.clinic == clinic) & (Provider.code == p["code"]),
                {
                    "clinic": clinic,
                    "code": p["code"],
                    "name": p["name"],
                    "weekly_hours": p["weekly_hours"],
                },
                now,
            )
            ProviderService.delete().where(ProviderService.provider == provider).execute()
            for code in p["services"]:
                ProviderService.create(provider=provider, service=by_code[code])
            TimeOff.delete().where(TimeOff.provider == provider).execute()
            for block in p["time_off"]:
                TimeOff.create(provider=provider, **block)
            save_sources(provider, p["calendars"], actor, now)
        audit.record(
            actor,
            "clinic.setup",
            "clinic",
            clinic.id,
            {
                "services": [None, len(parsed["services"])],
                "providers": [None, len(parsed["providers"])],
                **settings_changed,  # each setting that changed, old and new
            },
        )
    return {
        "clinic": clinic.code,
        "created": created,
        "services": len(parsed["services"]),
        "providers": len(parsed["providers"]),
        "warnings": sms_fit.check_templates(
            parsed["messages"]["templates"],
            clinic.name,
            parsed["locale"],
            clinic.time_zone,
            parsed["messages"].get("public_url", ""),
        ),
    }


def save_sources(provider: Provider, specs: list[dict[str, Any]], actor: str, now: Any) -> None:
    """The provider's calendar sources as the file lists them: new ones added, rules kept up
    to date, and ones no longer listed removed (their bookings stay, no longer synced; a file
    brought in by `calendar import` is not the file's to remove)."""
    listed = {spec["source"]: spec for spec in specs}
    for row in CalendarSource.select().where(CalendarSource.provider == provider):
        if row.source in listed:
            text = json.dumps(listed.pop(row.source))
            if text != row.spec:
                CalendarSource.update_by(actor, now, spec=text).where(
                    CalendarSource.id == row.id
                ).execute()
        elif not row.source.startswith(IMPORTED):
            row.delete_instance()
    for source, spec in listed.items():
        CalendarSource.create_by(
            actor,
            now,
            provider=provider.id,
            source=source,
            label=label(source),
            spec=json.dumps(spec),
        )


def parse_calendar_settings(raw: Any) -> dict[str, Any]:
    """[calendar]: how far ahead sources are synced, how often the app syncs, and whether a
    booking the calendar takes back is offered at once by the clinic's workflow."""
    table = raw if raw is not None else {}
    if not isinstance(table, dict):
        raise ValidationError("calendar must be a table", field="calendar")
    unknown = sorted(set(table) - {"days_ahead", "sync_minutes", "auto_offer"})
    if unknown:
        raise ValidationError(
            f"calendar.{unknown[0]} is not a calendar setting (days_ahead, sync_minutes, "
            "auto_offer)",
            field=f"calendar.{unknown[0]}",
        )
    return {
        "days_ahead": _int(table, "days_ahead", "calendar", 1, 366, 90),
        "sync_minutes": _int(table, "sync_minutes", "calendar", 0, 1440, 15),
        "auto_offer": parse_bool(table.get("auto_offer", False), "calendar.auto_offer"),
    }


def parse_backup_settings(raw: Any) -> dict[str, Any]:
    """[backup]: how often the app backs the database up (every_hours, 0: never; cron does
    it otherwise), into which folder, and how many daily and weekly backups stay."""
    table = raw if raw is not None else {}
    if not isinstance(table, dict):
        raise ValidationError("backup must be a table", field="backup")
    unknown = sorted(set(table) - {"every_hours", "dir", "keep_daily", "keep_weekly"})
    if unknown:
        raise ValidationError(
            f"backup.{unknown[0]} is not a backup setting (every_hours, dir, keep_daily, "
            "keep_weekly)",
            field=f"backup.{unknown[0]}",
        )
    folder = table.get("dir")
    if folder is not None and (not isinstance(folder, str) or not folder.strip()):
        raise ValidationError("backup.dir must be a folder's path", field="backup.dir")
    return {
        "every_hours": _int(table, "every_hours", "backup", 0, 24 * 31, 0),
        "dir": folder.strip() if folder else None,
        "keep_daily": _int(table, "keep_daily", "backup", 0, 366, 7),
        "keep_weekly": _int(table, "keep_weekly", "backup", 0, 520, 4),
    }


RETENTION_SETTING = "retention"


def parse_retention_settings(raw: Any) -> dict[str, Any]:
    """[retention]: after how many months a closed entry's personal data is purged
    (`maintenance purge`); 0, the default, keeps it until a client's erasure."""
    table = raw if raw is not None else {}
    if not isinstance(table, dict):
        raise ValidationError("retention must be a table", field="retention")
    unknown = sorted(set(table) - {"purge_closed_after_months"})
    if unknown:
        raise ValidationError(
            f"retention.{unknown[0]} is not a retention setting (purge_closed_after_months)",
            field=f"retention.{unknown[0]}",
        )
    return {
        "purge_closed_after_months": _int(
            table, "purge_closed_after_months", "retention", 0, 1200, 0
        )
    }


def setup_from_file(path: str | Path, actor: str) -> dict[str, Any]:
    return apply_setup(load_file(path), actor, Path(path).expanduser().resolve().parent)
