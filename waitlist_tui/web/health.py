"""GET /health: JSON for whoever runs the server (a load balancer, systemd, a monitor)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from waitlist_tui.domain import session as db_session
from waitlist_tui.web.auth import in_thread
from waitlist_tui.web.desk import OPEN_DESKS


def _version() -> str:
    try:
        return version("waitlist-tui")
    except PackageNotFoundError:
        return "unknown"


async def health(request: web.Request) -> web.Response:
    ok = await in_thread(db_session.database_ok)
    schema = await in_thread(db_session.schema_version) if ok else None
    body = {
        "status": "ok" if ok else "error",
        "database": "ok" if ok else "unreachable",
        "schema_version": schema,
        "version": _version(),
        "open_desks": len(request.app[OPEN_DESKS]),
    }
    return web.json_response(body, status=200 if ok else 503)


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/health", health, name="health")])
