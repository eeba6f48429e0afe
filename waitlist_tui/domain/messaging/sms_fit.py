"""Whether a text fits an SMS: GSM-7 or UCS-2, and how many segments it takes.

A text made only of the GSM 03.38 alphabet goes as GSM-7: 160 characters in one segment,
153 a segment when it is split (the rest carries the joining header); `^{}[]~|\\€` and the
form feed take two places each (an escape and the character). One character outside it (a
curly apostrophe, an emoji, an accented letter GSM lacks) sends the whole text as UCS-2:
70 UTF-16 units in one segment, 67 a segment when split. Pure functions, no I/O.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
_BASIC, _EXTENDED = frozenset(GSM_BASIC), frozenset(GSM_EXTENDED)
GSM7, UCS2 = "GSM-7", "UCS-2"
# what a placeholder is taken to hold when a template is measured at set-up
SAMPLE = {
    "clinic": "Harbour Physio & Wellness",
    "first_name": "Alexandra",
    "service": "Physiotherapy follow-up",
    "provider": "Dr Kim",
    "slot": "Mon 23 Nov 09:00",
    "hold_until": "Mon 23 Nov 08:30",
    "ref": "3F2A9C",
    "link": "https://desk.example.org/o/" + "x" * 22,  # offer_links: a 22-character token
}


@dataclass(frozen=True)
class Fit:
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    segments: int
    not_gsm: str  # the characters that forced UCS-2, in order of first use

    @property
    def per_segment(self) -> int:
        if self.encoding == GSM7:
            return 160 if self.segments <= 1 else 153
        return 70 if self.segments <= 1 else 67


def fit(text: str) -> Fit:
    outside = "".join(dict.fromkeys(c for c in text if c not in _BASIC and c not in _EXTENDED))
    if not outside:
        units = sum(2 if c in _EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, GSM7
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, UCS2
    segments = 0 if units == 0 else 1 if units <= single else -(-units // multi)
    return Fit(encoding, units, segments, outside)


MAX_SEGMENTS = 2  # an offer with a long service name runs to two; more is worth a word


def template_warning(
    kind: str, template: str, sample: Mapping[str, str] | None = None
) -> str | None:
    """A warning for an SMS template that is UCS-2 (every segment holds 70, not 160), or
    takes more than MAX_SEGMENTS segments with sample values in its placeholders."""
    values = {**SAMPLE, **(sample or {})}
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    rendered = template.format(**{n: values.get(n, "x" * 10) for n in names})
    found = fit(rendered)
    if found.encoding == GSM7 and found.segments <= MAX_SEGMENTS:
        return None
    why = ""
    if found.encoding == UCS2:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in found.not_gsm[:5])
        why = f"; {shown} not in GSM-7 makes it UCS-2: 70 characters a segment, not 160"
    return (
        f"messages: the {kind} text takes {found.segments} SMS segments "
        f"({found.units} {'characters' if found.encoding == GSM7 else 'UCS-2 units'} "
        f"with sample values){why}"
    )


def date_sample(locale: str | None, time_zone: str = "UTC") -> str:
    """The slot as the clinic's locale writes it, the worst case of the year: a date GSM-7
    cannot carry (French "août") when there is one, else the longest."""
    from waitlist_tui.domain.messaging import local_dates

    dates = local_dates.samples(locale, time_zone)
    outside = [d for d in dates if fit(d).encoding == UCS2]
    return outside[0] if outside else max(dates, key=len)


def check_templates(
    templates: Mapping[str, Mapping[str, str]],
    clinic_name: str,
    locale: str | None = None,
    time_zone: str = "UTC",
    public_url: str = "",
) -> list[str]:
    """The warnings for every kind's SMS template, the clinic's own name as the sample, its
    dates as its locale writes them (`locale` None: the desk's English wording), and its own
    offer link (its public URL and a token) when it has one, else no link at all."""
    link = f"{public_url}/o/{'x' * 22}" if public_url else ""
    sample = {"clinic": clinic_name, "link": link}
    date = date_sample(locale, time_zone) if locale else None
    if date:
        sample.update(slot=date, hold_until=date)
    out = []
    for kind, keys in templates.items():
        text = keys.get("sms")
        if text:
            warning = template_warning(kind, text, sample)
            if warning:
                if date and fit(date).encoding == UCS2 and fit(text).encoding == GSM7:
                    warning += (
                        f"; dates in {locale} such as {date!r} hold letters GSM-7 lacks, "
                        "so a text naming such a date goes as UCS-2"
                    )
                out.append(warning)
    return out
