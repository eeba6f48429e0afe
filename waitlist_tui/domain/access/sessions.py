"""Login sessions of the served desk, kept in the server's memory (a restart logs everyone
out). A session is a random token (the cookie) with its own CSRF token; it ends when its
staff member logs out, after IDLE_MINUTES without a request, or when its account is
disabled (the server asks `accounts.is_active` at each check it makes)."""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field

import pendulum

from waitlist_tui.domain import clock

IDLE_MINUTES = 30


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


class SessionBook:
    """The open sessions; safe to use from the server's threads."""

    def __init__(self, idle_minutes: float = IDLE_MINUTES) -> None:
        self.idle = pendulum.duration(seconds=int(idle_minutes * 60))
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, staff: str, role: str) -> Session:
        now = clock.now()
        session = Session(
            token=secrets.token_urlsafe(32),
            staff=staff,
            role=role,
            csrf=secrets.token_urlsafe(32),
            started=now,
            seen=now,
        )
        with self._lock:
            self._forget_idle(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None, touch: bool = True) -> Session | None:
        """The live session of `token` (its idle clock restarted when `touch`), or None."""
        if not token:
            return None
        now = clock.now()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.seen > self.idle:
                del self._sessions[token]
                return None
            if touch:
                session.seen = now
            return session

    def end(self, token: str | None) -> Session | None:
        with self._lock:
            return self._sessions.pop(token, None) if token else None

    def end_staff(self, staff: str) -> int:
        """End every session of `staff` (a disabled account); how many there were."""
        with self._lock:
            tokens = [t for t, s in self._sessions.items() if s.staff == staff]
            for token in tokens:
                del self._sessions[token]
            return len(tokens)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _forget_idle(self, now: pendulum.DateTime) -> None:
        for token in [t for t, s in self._sessions.items() if now - s.seen > self.idle]:
            del self._sessions[token]
