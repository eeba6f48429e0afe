"""Contact consent: the clinic's default for a new client, and the SMS keywords a carrier
requires (STOP, START, HELP).

The default is the clinic's decision, made in its set-up file and kept, checked, in
`clinic.settings["consent"]`; a clinic that has not decided is "ask": a new client must say.

    [consent]
    default = "yes"       # a new client's SMS and email consent when nothing is said:
                          # yes | no | ask (refused until stated); true/false also read
    contact_line = "Harbour Physio, +1 617 555 0100"  # HELP's answer (default: clinic name)

Keywords (the whole reply, any case, blanks and punctuation around it ignored): STOP,
STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT withdraw SMS consent at once; START, UNSTOP give it
back; HELP, INFO answer with the contact line. YES stays the answer to an offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.flags import RULE, parse_bool

SECTION = "consent"
YES, NO, ASK = "yes", "no", "ask"
DEFAULTS = (YES, NO, ASK)
MAX_CONTACT_LINE = 120

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
_KEYWORD = re.compile(r"^\W*([A-Za-z]+)\W*$")

# The replies a carrier requires whatever the client's consent: sent once, answering the
# client's own keyword, never for anything else (delivery lets only these kinds through).
OPTED_OUT_KIND, HELP_KIND = "opted_out", "help"
CARRIER_REPLIES = frozenset({OPTED_OUT_KIND, HELP_KIND})
OPTED_IN_KIND = "opted_in"
# The one-time code a client asked for on the /join page (domain/waitlist/self_join.py): one
# transactional SMS, sent without SMS consent; a phone that texted STOP is never sent one.
JOIN_CODE_KIND, JOIN_CODE_REF = "join_code", "join_code"


@dataclass(frozen=True)
class ConsentSettings:
    default: str  # yes | no | ask
    contact_line: str  # "" : the clinic's name

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "contact_line": self.contact_line}


def parse_default(value: Any, field: str = f"{SECTION}.default") -> str:
    """yes | no | ask, or a flag (true/false, on/off, 1/0) read as yes or no."""
    if isinstance(value, str) and value.strip().lower() == ASK:
        return ASK
    try:
        return YES if parse_bool(value, field) else NO
    except ValidationError:
        raise ValidationError(
            f"{field} must be yes, no or ask ({RULE} also read)", field=field
        ) from None


def parse(section: Any) -> ConsentSettings:
    """Check the set-up file's [consent] table; a clinic that says nothing is asked."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ValidationError(f"{SECTION} must be a table", field=SECTION)
    known = {"default", "contact_line"}
    for key in section:
        if key not in known:
            raise ValidationError(
                f"{SECTION}.{key} is not a setting ({', '.join(sorted(known))})",
                field=f"{SECTION}.{key}",
            )
    default = parse_default(section["default"]) if "default" in section else ASK
    line = section.get("contact_line", "")
    where = f"{SECTION}.contact_line"
    if not isinstance(line, str):
        raise ValidationError(f"{where} must be text", field=where)
    line = " ".join(line.split())
    if len(line) > MAX_CONTACT_LINE:
        raise ValidationError(
            f"{where} is longer than {MAX_CONTACT_LINE} characters (it goes out by SMS)",
            field=where,
        )
    return ConsentSettings(default, line)


def of(clinic: Any) -> ConsentSettings:
    """The clinic's checked settings; "ask" for a clinic that has not decided."""
    stored = (clinic.settings or {}).get(SECTION) or {}
    return ConsentSettings(stored.get("default", ASK), stored.get("contact_line", ""))


def contact_line(clinic: Any) -> str:
    return of(clinic).contact_line or clinic.name


def keyword(text: str) -> str | None:
    """opt_out | opt_in | help when the whole reply is one of the carrier keywords."""
    match = _KEYWORD.match(text.strip())
    if not match:
        return None
    word = match.group(1).upper()
    if word in OPT_OUT_WORDS:
        return OPT_OUT
    if word in OPT_IN_WORDS:
        return OPT_IN
    if word in HELP_WORDS:
        return HELP
    return None


def opted_out_text(clinic: Any) -> str:
    return f"{clinic.name}: you will get no more texts from us. Reply START to get them again."


def opted_in_text(clinic: Any) -> str:
    return f"{clinic.name}: texts are back on. Reply STOP to stop them, HELP for help."


def help_text(clinic: Any) -> str:
    return f"{contact_line(clinic).rstrip('.')}. Reply STOP to stop texts, START to get them again."
