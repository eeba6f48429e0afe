"""The aiohttp application: route modules, templates, and the headers every answer gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from waitlist_tui.domain.access.sessions import SessionBook
from waitlist_tui.web import auth, desk, health, join, offer_links, sms, vonage
from waitlist_tui.web.settings import SESSIONS, SETTINGS, WebSettings

TEMPLATES = Path(__file__).parent / "templates"

# Each adds its routes.
ROUTE_MODULES: list[Callable[[web.Application], None]] = [
    auth.add_routes,
    desk.add_routes,
    health.add_routes,
    join.add_routes,
    offer_links.add_routes,
    sms.add_routes,
    vonage.add_routes,
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def safe_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, no referrer, no caching of pages, and a content policy
    that lets the pages load only this server's scripts and talk only to its websocket."""
    try:
        response = await handler(request)
    except web.HTTPException as answer:
        response = answer
        _headers(request, response)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return  # a websocket or a streamed download: its headers are sent
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    host = request.host
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws://{host} "
        f"wss://{host}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    if request.app[SETTINGS].tls:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def make_app(settings: WebSettings) -> web.Application:
    app = web.Application(middlewares=[safe_headers], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[SESSIONS] = SessionBook(settings.idle_minutes)
    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape()
    )
    for add in ROUTE_MODULES:
        add(app)
    return app
