"""normalize_email's shortcut (issue 18: an address at a domain already seen is put together
without email_validator) gives what email_validator gives, or refuses what it refuses."""

from __future__ import annotations

import string

from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from waitlist_tui.domain.catalog.clients import normalize_email
from waitlist_tui.domain.errors import ValidationError

DOMAINS = ["a.com", "Ex.Org", "b", "x.co.uk", "localhost", "b..com", "-b.com", "bücher.example",
           "xn--bcher-kva.example", "[1.2.3.4]", "b.invalid", "mail.arpa", "b" * 64 + ".com"]  # fmt: skip
LOCAL = string.ascii_letters + string.digits + ".-_+!#$%&'*/=?^`{|}~ \"ü"


def _full(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _ours(address: str) -> str | None:
    try:
        return normalize_email(address)
    except ValidationError:
        return None


@settings(max_examples=2000, deadline=None)
@given(local=st.text(LOCAL, min_size=1, max_size=70), domain=st.sampled_from(DOMAINS))
def test_the_shortcut_agrees_with_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    if address != address.strip() or len(address) > 254:
        return  # text_value's own rules come first (trimmed, at most 254 characters)
    for _ in range(2):  # the first call asks email_validator for the domain, the second not
        assert _ours(address) == _full(address), address
