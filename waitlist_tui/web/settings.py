"""What the server was told: the database, TLS, and the session and desk limits."""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from waitlist_tui.domain.access.sessions import IDLE_MINUTES, SessionBook


@dataclass
class WebSettings:
    db_url: str
    tls: bool = False  # served over HTTPS: --cert/--key, or a reverse proxy that terminates TLS
    idle_minutes: float = IDLE_MINUTES
    max_desks: int = 16  # desk processes at once (each a Python process, ~60 MB resident)
    check_seconds: float = 15.0  # how often an open desk checks that its session still lives
    python: str = sys.executable
    joins_per_ip: int = 5  # /join submissions from one address in 10 minutes
    confirms_per_ip: int = 30  # /join/confirm tries from one address in 10 minutes
    links_per_ip: int = 30  # offer-link pages (GET or POST /o/...) from one address in 10 min
    # the address the world reaches this server at (behind a proxy the host differs): the
    # URL Twilio signs its webhooks for, e.g. https://desk.example.org (web/sms.py)
    public_url: str = ""
    # proxies (addresses or networks) whose X-Forwarded-For names the client: --trusted-proxy
    trusted_proxies: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)

    def desk_command(self, staff: str, role: str) -> str:
        """The shell command textual-serve runs for one browser desk: the same app, on the
        same database, in the logged-in staff member's name and with their role (which
        keys it shows; the domain checks the account's role itself). `exec`: the shell
        textual-serve starts becomes the desk, so stopping (or killing) it reaches the desk."""
        return "exec " + shlex.join(
            [
                self.python,
                "-m",
                "waitlist_tui",
                "--db",
                self.db_url,
                "--staff",
                staff,
                "--staff-role",
                role,
            ]
        )


SETTINGS: web.AppKey[WebSettings] = web.AppKey("settings", WebSettings)
SESSIONS: web.AppKey[SessionBook] = web.AppKey("sessions", SessionBook)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
