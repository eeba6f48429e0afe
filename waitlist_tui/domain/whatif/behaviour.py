"""The behaviour model of a simulated month: cancellations, answers, phone calls, no-shows and
new entries, each a documented distribution whose defaults and sources live in
assets/whatif_model.toml. Draws are keyed, not sequential: `unit(seed, *keys)` is a pure
function of the seed and the keys (a client and a slot, an appointment), so every setting
compared on one world sees the same client say the same thing to the same slot."""

from __future__ import annotations

import hashlib
import itertools
import math
import tomllib
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from waitlist_tui.domain import assets
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.timeutil import parse_hhmm

MODEL_FILE = "whatif_model.toml"
_NORMAL = NormalDist()


def unit(seed: int, *keys: object) -> float:
    """A uniform draw in [0, 1) that depends only on the seed and the keys."""
    text = "\x1f".join([str(seed), *map(str, keys)]).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def interpolate(xs: tuple[float, ...], ys: tuple[float, ...], x: float) -> float:
    """Piecewise-linear between the points, flat beyond the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Model:
    cancel_lead_days: tuple[float, ...]
    cancel_rate: tuple[float, ...]
    notice_mean_days: float
    respond_sms: float
    respond_email: float
    accept_exact: float
    accept_partial: float
    lead_hours: tuple[float, ...]
    lead_factor: tuple[float, ...]
    delay_median_minutes: float
    delay_sigma: float
    phone_attempts: int
    phone_gap_minutes: int
    phone_reach: float
    desk_opens: int  # minutes after local midnight
    desk_closes: int
    no_show_rate: float
    arrivals_per_day: float

    # --- the distributions ---------------------------------------------------------------

    def cancel_probability(self, lead_days: float) -> float:
        """The chance a booking made `lead_days` before its slot is cancelled [VA]."""
        return interpolate(self.cancel_lead_days, self.cancel_rate, max(0.0, lead_days))

    def notice_days(self, u: float) -> float:
        """Days before its slot a cancellation comes (exponential, inverse CDF of u)."""
        return -self.notice_mean_days * math.log(1.0 - u)

    def respond_probability(self, channel: str) -> float:
        return self.respond_sms if channel == "sms" else self.respond_email

    def accept_probability(self, match_type: str, hours_ahead: float) -> float:
        """A YES among answers, by match type and how soon the slot starts."""
        base = self.accept_exact if match_type == "EXACT" else self.accept_partial
        return min(1.0, base * interpolate(self.lead_hours, self.lead_factor, hours_ahead))

    def delay_minutes(self, u: float) -> float:
        """Minutes from the message's arrival to the answer (log-normal, inverse CDF of u)."""
        z = _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        return self.delay_median_minutes * math.exp(self.delay_sigma * z)

    def arrivals(self, u: float) -> int:
        """New entries on one day: Poisson(per_day), by inversion of u."""
        k, p = 0, math.exp(-self.arrivals_per_day)
        total = p
        while u > total and k < 1000:
            k += 1
            p *= self.arrivals_per_day / k
            total += p
        return k


def _num(table: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(
            f"{where}.{key} must be a number {low}-{high}", field=f"{where}.{key}"
        )
    return float(value)


def _curve(
    table: dict[str, Any], xkey: str, ykey: str, where: str, yhigh: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    xs, ys = table.get(xkey), table.get(ykey)
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys) or not xs:
        raise ValidationError(
            f"{where}.{xkey} and {where}.{ykey} must be lists of the same length",
            field=f"{where}.{xkey}",
        )
    for v in (*xs, *ys):
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ValidationError(f"{where}: numbers 0 or more only", field=f"{where}.{xkey}")
    if any(b <= a for a, b in itertools.pairwise(xs)):
        raise ValidationError(f"{where}.{xkey} must increase", field=f"{where}.{xkey}")
    if any(y > yhigh for y in ys):
        raise ValidationError(f"{where}.{ykey} must be at most {yhigh}", field=f"{where}.{ykey}")
    return tuple(map(float, xs)), tuple(map(float, ys))


SECTIONS = {
    "cancellations": {"lead_days", "rate", "notice_mean_days"},
    "answers": {
        "respond_sms",
        "respond_email",
        "accept_exact",
        "accept_partial",
        "lead_hours",
        "lead_factor",
        "delay_median_minutes",
        "delay_sigma",
    },
    "phone": {"attempts", "gap_minutes", "reach", "desk_opens", "desk_closes"},
    "no_shows": {"rate"},
    "arrivals": {"per_day"},
}


def parse(data: dict[str, Any]) -> Model:
    """A model from TOML tables, every key checked (a misspelt one is refused, not ignored)."""
    for name, table in data.items():
        if name not in SECTIONS or not isinstance(table, dict):
            raise ValidationError(f"{name} is not a section of the model", field=name)
        for key in table:
            if key not in SECTIONS[name]:
                raise ValidationError(f"{name}.{key} is not a setting", field=f"{name}.{key}")
    c, a, p = data["cancellations"], data["answers"], data["phone"]
    lead_days, rate = _curve(c, "lead_days", "rate", "cancellations", 1.0)
    lead_hours, factor = _curve(a, "lead_hours", "lead_factor", "answers", 10.0)
    opens = parse_hhmm(str(p.get("desk_opens", "")), "phone.desk_opens")
    closes = parse_hhmm(str(p.get("desk_closes", "")), "phone.desk_closes")
    if closes <= opens:
        raise ValidationError("phone.desk_closes must be after desk_opens", field="phone")
    return Model(
        lead_days,
        rate,
        _num(c, "notice_mean_days", "cancellations", 0.01, 365),
        _num(a, "respond_sms", "answers", 0, 1),
        _num(a, "respond_email", "answers", 0, 1),
        _num(a, "accept_exact", "answers", 0, 1),
        _num(a, "accept_partial", "answers", 0, 1),
        lead_hours,
        factor,
        _num(a, "delay_median_minutes", "answers", 0.1, 10080),
        _num(a, "delay_sigma", "answers", 0, 5),
        int(_num(p, "attempts", "phone", 0, 10)),
        int(_num(p, "gap_minutes", "phone", 1, 1440)),
        _num(p, "reach", "phone", 0, 1),
        opens,
        closes,
        _num(data["no_shows"], "rate", "no_shows", 0, 1),
        _num(data["arrivals"], "per_day", "arrivals", 0, 500),
    )


def defaults_data() -> dict[str, Any]:
    return tomllib.loads(assets.read_text(MODEL_FILE))


def load(path: str | Path | None = None) -> Model:
    """The shipped defaults, with a file's tables laid over them (a file names only what it
    changes)."""
    data = defaults_data()
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
            mine = tomllib.loads(text)
        except OSError as exc:
            raise ValidationError(f"cannot read {path}: {exc.strerror}", field="model") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"{path} is not TOML: {exc}", field="model") from None
        for name, table in mine.items():
            if name not in SECTIONS or not isinstance(table, dict):
                raise ValidationError(f"{name} is not a section of the model", field=name)
            data[name] = {**data[name], **table}
    return parse(data)
