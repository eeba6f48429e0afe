"""Login sessions of the served desk, kept in the database (schema v15): a restart keeps
staff logged in, and two server processes on one database share them.

A session is a random token (the cookie). The database holds only its SHA-256: whoever reads
the database (or a backup) cannot log in with what is there. Its CSRF token is derived from
the token (an HMAC of it), so it is never stored either. A session ends when its staff member
logs out, after IDLE_MINUTES without a request, or when its account is disabled (the server
asks `accounts.is_active` at each check it makes). Each call needs a connection (the server
runs them in threads, with one each)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import pendulum

from waitlist_tui.domain import clock
from waitlist_tui.domain.store.db import database
from waitlist_tui.domain.store.models import WebSession

IDLE_MINUTES = 30
TOUCH_SECONDS = 30  # a session's last use is written at most this often (not every key)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256 (a token has 256 random bits, so a
    plain hash is enough; a password would need argon2)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_of(token: str) -> str:
    """The session's CSRF token: derived from the cookie's token, stored nowhere. A page of
    another site can neither read the cookie nor this."""
    return hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()


@dataclass
class Session:
    token: str
    staff: str
    role: str
    csrf: str
    started: pendulum.DateTime
    seen: pendulum.DateTime = field(compare=False)

    def csrf_ok(self, offered: object) -> bool:
        return isinstance(offered, str) and hmac.compare_digest(offered, self.csrf)


def _aware(value: dt.datetime) -> pendulum.DateTime:
    return pendulum.instance(value, tz="UTC")


class SessionBook:
    """The open sessions, in the web_session table."""

    def __init__(self, idle_minutes: float = IDLE_MINUTES) -> None:
        self.idle = pendulum.duration(seconds=int(idle_minutes * 60))

    def start(self, staff: str, role: str) -> Session:
        now = clock.now()
        token = secrets.token_urlsafe(32)
        with database.atomic():
            WebSession.delete().where(WebSession.seen_at < now - self.idle).execute()
            WebSession.create(
                token_hash=token_hash(token), staff=staff, role=role, started_at=now, seen_at=now
            )
        return Session(token, staff, role, csrf_of(token), now, now)

    def get(self, token: str | None, touch: bool = True) -> Session | None:
        """The live session of `token` (its idle clock restarted when `touch`), or None."""
        if not token or len(token) > 100:
            return None
        now = clock.now()
        key = token_hash(token)
        row = WebSession.get_or_none(WebSession.token_hash == key)
        if row is None:
            return None
        seen = _aware(row.seen_at)
        if now - seen > self.idle:
            WebSession.delete().where(WebSession.token_hash == key).execute()
            return None
        if touch and (now - seen).total_seconds() >= TOUCH_SECONDS:
            WebSession.update(seen_at=now).where(WebSession.token_hash == key).execute()
            seen = now
        return Session(token, row.staff, row.role, csrf_of(token), _aware(row.started_at), seen)

    def end(self, token: str | None) -> bool:
        """Whether a session of `token` was open (it is not any more)."""
        if not token:
            return False
        return bool(WebSession.delete().where(WebSession.token_hash == token_hash(token)).execute())

    def end_staff(self, staff: str) -> int:
        """End every session of `staff` (a disabled account); how many there were."""
        return int(WebSession.delete().where(WebSession.staff == staff).execute())

    def __len__(self) -> int:
        return int(WebSession.select().where(WebSession.seen_at >= clock.now() - self.idle).count())
