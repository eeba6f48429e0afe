"""Message templates per kind and channel, checked when the clinic is set up, not at send time.

A clinic may keep its own wording in a TOML file beside its set-up; kinds and keys it leaves
out keep the shipped wording (assets/message_templates.toml). A template may name only the
placeholders of its kind, as plain `{name}`s (no attribute or index lookups, no format specs),
and must name the ones its kind cannot do without (an offer that leaves out the slot says
nothing): either mistake is a ValidationError naming the kind, the key and the placeholder.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Any

from waitlist_tui.domain.errors import ValidationError

COMMON = ("clinic", "first_name", "service", "provider", "slot")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "offer": (*COMMON, "hold_until", "ref", "link"),
    "offer_expired": COMMON,
    "offer_withdrawn": COMMON,
    "booked": COMMON,
    "seat_promoted": COMMON,
    "seat_offered": (*COMMON, "hold_until", "ref"),
    "already_filled": COMMON,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "offer": ("slot", "hold_until"),
    "offer_expired": ("slot",),
    "offer_withdrawn": ("slot",),
    "booked": ("slot",),
    "seat_promoted": ("slot",),
    "seat_offered": ("slot", "hold_until"),
    "already_filled": (),
}
KINDS = tuple(PLACEHOLDERS)
KEYS = ("sms", "email_subject", "email")

Templates = dict[str, dict[str, str]]


def placeholders_in(text: str, where: str) -> set[str]:
    """The `{names}` a template uses; a malformed one (`{`, `{a.b}`, `{a:>4}`) is an error."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc}", field=where) from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValidationError(
                f"{where}: placeholder {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} must be a plain name such as {{slot}}",
                field=where,
            )
        names.add(name)
    return names


def check(templates: dict[str, Any], where: str = "templates") -> Templates:
    """Every kind with its three keys, each a string using allowed placeholders only."""
    checked: Templates = {}
    for kind in KINDS:
        table = templates.get(kind)
        if not isinstance(table, dict):
            raise ValidationError(f"{where}.{kind} is missing", field=f"{where}.{kind}")
        checked[kind] = {}
        for key in KEYS:
            at = f"{where}.{kind}.{key}"
            text = table.get(key)
            if not isinstance(text, str) or not text.strip():
                raise ValidationError(f"{at} must be a non-empty string", field=at)
            used = placeholders_in(text, at)
            unknown = sorted(used - set(PLACEHOLDERS[kind]))
            if unknown:
                raise ValidationError(
                    f"{at}: unknown placeholder {{{unknown[0]}}}; {kind} may use "
                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS[kind]),
                    field=at,
                )
            if key != "email_subject":
                missing = [p for p in REQUIRED[kind] if p not in used]
                if missing:
                    raise ValidationError(
                        f"{at}: placeholder {{{missing[0]}}} is missing; a {kind} message "
                        f"must say " + " and ".join(f"{{{p}}}" for p in REQUIRED[kind]),
                        field=at,
                    )
            checked[kind][key] = text
    return checked


def defaults() -> Templates:
    from waitlist_tui.domain.assets import read_text

    return check(tomllib.loads(read_text("message_templates.toml")), "message_templates.toml")


def merged(own: dict[str, Any], where: str) -> Templates:
    """The clinic's own templates over the shipped ones; an unknown kind or key is a typo."""
    result = defaults()
    for kind, table in own.items():
        if kind not in PLACEHOLDERS:
            raise ValidationError(
                f"{where}.{kind} is not a message kind ({', '.join(KINDS)})",
                field=f"{where}.{kind}",
            )
        if not isinstance(table, dict):
            raise ValidationError(f"{where}.{kind} must be a table", field=f"{where}.{kind}")
        for key, text in table.items():
            if key not in KEYS:
                raise ValidationError(
                    f"{where}.{kind}.{key} is not one of {', '.join(KEYS)}",
                    field=f"{where}.{kind}.{key}",
                )
            result[kind][key] = text
    return check(result, where)


def load_file(path: Path) -> Templates:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValidationError(
            f"messages.templates: file {path} not found", field="messages.templates"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(
            f"messages.templates: {path} is not valid TOML: {exc}", field="messages.templates"
        ) from None
    except (OSError, ValueError) as exc:  # a directory, no permission, a NUL in the name
        raise ValidationError(
            f"messages.templates: cannot read {path}: {exc}", field="messages.templates"
        ) from None
    return merged(data, path.name)


def render(
    templates: Templates, kind: str, channel: str, values: dict[str, str]
) -> tuple[str, str]:
    """(subject, body) for a checked template; subject is empty for SMS. A kind newer than the
    clinic's stored set-up uses the shipped wording."""
    table = templates[kind] if kind in templates else defaults()[kind]
    body = table[channel].format_map(values).strip()
    subject = table["email_subject"].format_map(values).strip() if channel == "email" else ""
    return subject, body
