"""A clinic's messaging settings: templates, quiet hours, the daily cap on offers to a client.

They come from the `[messages]` table of the clinic's set-up file and are kept, checked, in
`clinic.settings["messages"]`, so that sending never reads a file nor finds a template broken.
A clinic set up before messaging existed gets the defaults.

    [messages]
    templates = "message_templates.toml"  # beside the set-up file; default: shipped wording
    quiet_hours = "21:00-08:00"            # clinic time; messages wait until they end
    max_offers_per_day = 3                 # offers to one client per clinic day (0: no limit)
    public_url = "https://desk.example.org"  # where clients reach `serve`: offer messages
                                           # then carry a link to answer on (offer_links.py)

    [messages.sms]                         # texts through Twilio (twilio_sms.py) or
                                           # Vonage (provider = "vonage", vonage_sms.py)
    provider = "twilio"
    account_sid = "AC..."
    from = "+15550100"
    auth_token_env = "TWILIO_AUTH_TOKEN"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pendulum

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.messaging import templates
from waitlist_tui.domain.textinput import text_value
from waitlist_tui.domain.timeutil import parse_hhmm

DEFAULT_QUIET_HOURS = ("21:00", "08:00")
DEFAULT_MAX_OFFERS_PER_DAY = 3
SECTION = "messages"


@dataclass(frozen=True)
class MessageSettings:
    templates: templates.Templates
    quiet_hours: tuple[int, int] | None  # minutes after local midnight: start, end
    max_offers_per_day: int  # 0: no limit
    sms: dict[str, Any] | None = None  # [messages.sms], checked; never a secret
    public_url: str = ""  # the clinic's `serve` as clients reach it; "" : no offer links

    def to_json(self) -> dict[str, Any]:
        quiet = None
        if self.quiet_hours:
            quiet = [f"{m // 60:02d}:{m % 60:02d}" for m in self.quiet_hours]
        out: dict[str, Any] = {
            "templates": self.templates,
            "quiet_hours": quiet,
            "max_offers_per_day": self.max_offers_per_day,
        }
        if self.sms:
            out["sms"] = self.sms
        if self.public_url:
            out["public_url"] = self.public_url
        return out


def _quiet(value: Any) -> tuple[int, int] | None:
    where = f"{SECTION}.quiet_hours"
    if value in (None, "", False):
        return None
    parts = value if isinstance(value, list) else str(value).split("-")
    if len(parts) != 2:
        raise ValidationError(f"{where} must look like 21:00-08:00, got {value!r}", field=where)
    start, end = (parse_hhmm(str(p).strip(), where) for p in parts)
    if start == end:
        raise ValidationError(f"{where}: start and end must differ", field=where)
    return start, end


def parse(section: dict[str, Any] | None, base_dir: Path | None) -> MessageSettings:
    """Check the set-up file's [messages] table (templates file read relative to base_dir)."""
    section = dict(section or {})
    known = {"templates", "quiet_hours", "max_offers_per_day", "sms", "public_url"}
    for key in section:
        if key not in known:
            raise ValidationError(
                f"{SECTION}.{key} is not a setting ({', '.join(sorted(known))})",
                field=f"{SECTION}.{key}",
            )
    if section.get("templates"):
        name = text_value(section["templates"], f"{SECTION}.templates", max_len=4096)
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        checked = templates.load_file(path)
    else:
        checked = templates.defaults()
    cap = section.get("max_offers_per_day", DEFAULT_MAX_OFFERS_PER_DAY)
    if not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= 50:
        raise ValidationError(
            f"{SECTION}.max_offers_per_day must be a whole number from 0 to 50",
            field=f"{SECTION}.max_offers_per_day",
        )
    quiet = _quiet(section.get("quiet_hours", "-".join(DEFAULT_QUIET_HOURS)))
    sms = section.get("sms")
    if sms is not None and not isinstance(sms, dict):
        raise ValidationError(f"{SECTION}.sms must be a table", field=f"{SECTION}.sms")
    return MessageSettings(
        checked,
        quiet,
        cap,
        _check_sms(sms) if sms else None,
        public_url(section.get("public_url", "")),
    )


def _check_sms(sms: dict[str, Any]) -> dict[str, Any]:
    """[messages.sms] checked by its provider's module (Twilio unless it says vonage)."""
    from waitlist_tui.domain.messaging import twilio_sms, vonage_sms

    if sms.get("provider") == vonage_sms.PROVIDER:
        return vonage_sms.check_settings(sms)
    return twilio_sms.check_settings(sms)


def public_url(value: Any, where: str = f"{SECTION}.public_url") -> str:
    """The address clients reach the clinic's server at: https://host[:port][/prefix] (plain
    http only for a loopback address, for tests and a desk's own machine); "" : none. No
    query, fragment or credentials: a link is this plus /o/<token>."""
    if value in (None, ""):
        return ""
    text = text_value(value, where, max_len=200).strip().rstrip("/")
    parts = urlsplit(text)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValidationError(
            f"{where} must start with https:// (http:// only for 127.0.0.1), got {text!r}",
            field=where,
        )
    if not parts.hostname or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(
            f"{where} must be a plain address such as https://desk.example.org", field=where
        )
    return text


@lru_cache(maxsize=1)
def _default() -> MessageSettings:
    return parse(None, None)


def of(clinic: Any) -> MessageSettings:
    """The clinic's checked settings, or the defaults for a clinic set up before v4."""
    stored = (clinic.settings or {}).get(SECTION)
    if not stored:
        return _default()
    quiet = stored.get("quiet_hours")
    return MessageSettings(
        stored["templates"],
        (parse_hhmm(quiet[0], "quiet_hours"), parse_hhmm(quiet[1], "quiet_hours"))
        if quiet
        else None,
        int(stored.get("max_offers_per_day", DEFAULT_MAX_OFFERS_PER_DAY)),
        stored.get("sms"),
        str(stored.get("public_url") or ""),
    )


def quiet_until(now: dt.datetime, time_zone: str, quiet: tuple[int, int] | None) -> dt.datetime:
    """When a message may go: `now`, or the end of the quiet hours `now` falls in (UTC)."""
    if not quiet:
        return now
    start, end = quiet
    local = pendulum.instance(now).in_timezone(time_zone)
    minute = local.hour * 60 + local.minute
    if start < end:
        inside, day = start <= minute < end, local.date()
    else:  # across midnight, e.g. 21:00-08:00
        inside = minute >= start or minute < end
        day = local.date().add(days=1) if minute >= start else local.date()
    if not inside:
        return now
    ends = pendulum.datetime(day.year, day.month, day.day, end // 60, end % 60, tz=time_zone)
    return ends.in_timezone("UTC")


def day_start(now: dt.datetime, time_zone: str) -> dt.datetime:
    """Midnight of the clinic's current day, in UTC: where "per day" counts from."""
    return pendulum.instance(now).in_timezone(time_zone).start_of("day").in_timezone("UTC")
