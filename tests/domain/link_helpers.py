"""Builders for offer-link tests: a clinic with a public URL, offers texted through a file
transport, and the token read back from what was sent (the only place it exists)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from tests.conftest import STAFF, clinic_without_feeds
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.messaging import delivery
from waitlist_tui.domain.messaging.transports import FileTransport, Transports

PUBLIC = "https://desk.example.org"
LINK = re.compile(r"(https?://[^\s/]+(?::\d+)?)/o/([A-Za-z0-9_-]{16,64})")


def with_public_url(url: str = PUBLIC) -> dict:
    """Set the clinic up again with [messages] public_url; the setup's answer."""
    data = clinic_without_feeds()
    data.setdefault("messages", {})["public_url"] = url
    return apply_setup(data, STAFF)


def deliver_to_file(path: Path) -> list[dict]:
    """Send what is due to a JSON-lines file; every line sent so far."""
    transport = FileTransport(path)
    delivery.deliver(Transports(transport, transport), rng=random.Random(1))
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def token_in(body: str) -> str:
    found = LINK.search(body)
    assert found, body
    return found.group(2)


def tokens_by_phone(sent: list[dict]) -> dict[str, str]:
    """The link token each recipient's offer text carried."""
    return {m["to"]: token_in(m["body"]) for m in sent if LINK.search(m["body"])}
