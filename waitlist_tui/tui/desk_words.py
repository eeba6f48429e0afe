"""A domain error as the desk reads it beside a field: no field names in code, no library
text ("client.phone 'abc' is not a phone number ((1) The string supplied...)"). The CLI's
--json keeps the API's wording; only the screens speak this way."""

from __future__ import annotations

import re

# The names the domain's messages use, as a receptionist says them.
NAMES = {
    "client.first_name": "first name",
    "client.last_name": "last name",
    "client.phone": "phone",
    "client.email": "email",
    "client.consent_sms": "may we text them",
    "client.consent_email": "may we email them",
    "date_range_start": "start date",
    "date_range_end": "end date",
    "preferred_time_start": "earliest time",
    "preferred_time_end": "latest time",
    "preferred_days": "days",
    "preferred_time_slots": "time of day",
    "preferred_providers": "providers",
    "payment_type": "payment",
    "max_span_days": "the clinic's longest range",
}
# Whole messages worth saying differently (matched after the field name is dropped).
SAID = [
    (re.compile(r"^'(?P<v>.*)' is not a phone number.*$"),
     "'{v}' is not a phone number: type it as 617 555 0142, or +44 20 7946 0958 abroad"),
    (re.compile(r"^'(?P<v>.*)' is not a valid email address: (?P<why>.*)$"),
     "'{v}' is not an email address: {why}"),
    (re.compile(r"^must be on or after date_range_start$"), "is before the start date"),
    (re.compile(r"^is in the past$"), "has already passed"),
    (re.compile(r"^is required: this clinic asks every new client \(yes or no\)$"),
     "? Choose yes or no: this clinic asks every new client"),
    (re.compile(r"^is required$"), "is needed"),
]  # fmt: skip
_LIBRARY_DETAIL = re.compile(r"\s*\(\(\d+\)[^)]*\)\)?\s*$")


def desk_words(field: str | None, message: str) -> str:
    """The message without its field's code name in front (the field sits beside it), with
    library detail dropped and code names in the rest said in words."""
    text = message
    if field and text.startswith(field):
        text = text[len(field) :].lstrip(" :")
    text = _LIBRARY_DETAIL.sub("", text)
    for pattern, said in SAID:
        found = pattern.match(text)
        if found:
            text = said.format(**found.groupdict())
            break
    for code, words in NAMES.items():
        text = re.sub(rf"\b{re.escape(code)}\b", words, text)
    name = NAMES.get(field or "", (field or "").replace("_", " "))
    if not name:
        return text
    return f"{name[:1].upper()}{name[1:]}{'' if text.startswith('?') else ' '}{text}"
