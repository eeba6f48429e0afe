"""The desk itself in the browser: textual-serve's page, websocket and static files, each
desk run as `waitlist-tui` in the logged-in staff member's name (so the audit trail records
who did what from the browser).

textual-serve's Server holds no authentication: its routes are not used as they are. Its
AppService (the app process behind one websocket), its static files (xterm.js) and its
download manager are; the page and the websocket handler are ours, and refuse a request
without a live session before anything starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import aiohttp_jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from waitlist_tui.domain.access import accounts
from waitlist_tui.domain.access.sessions import TOUCH_SECONDS, Session
from waitlist_tui.web.auth import current_session, in_thread, require_session
from waitlist_tui.web.settings import SESSIONS, SETTINGS

log = logging.getLogger("waitlist_tui.web")

STATIC = Path(textual_serve.__file__).parent / "static"
DOWNLOADS: web.AppKey[DownloadManager] = web.AppKey("downloads", DownloadManager)
OPEN_DESKS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("open_desks")
STOPPING: web.AppKey[set[asyncio.Future[None]]] = web.AppKey("stopping")


class DeskProcess(AppService):
    """textual-serve's AppService, whose stop also waits for the process to end (and kills
    one that does not quit within STOP_SECONDS), so no desk outlives its websocket."""

    STOP_SECONDS = 10.0

    async def stop(self) -> None:
        process = self._process
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(super().stop(), self.STOP_SECONDS)
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), self.STOP_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()  # its pipes too (asyncio warns of a transport left open)


def _size(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


async def desk_page(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther("/login")
    scheme = "wss" if request.app[SETTINGS].tls or request.secure else "ws"
    context = {
        "staff": session.staff,
        "role": session.role,
        "csrf": session.csrf,
        "websocket_url": f"{scheme}://{request.host}/ws",
        "static_url": "/static/",
        "font_size": _size(request.query.get("fontsize"), 16, 8, 40),
    }
    return aiohttp_jinja2.render_template("desk.html", request, context)


def _same_origin(request: web.Request) -> bool:
    """A websocket opened by another site's page (cross-site websocket hijacking) carries
    that site's Origin: refused even if a browser sent the cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (browsers always send it on a websocket)
    return origin.split("://", 1)[-1] == request.host


async def desk_socket(request: web.Request) -> web.StreamResponse:
    session = await require_session(request)  # 401 before the upgrade: no desk without a login
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin desk refused", content_type="text/plain")
    settings = request.app[SETTINGS]
    desks = request.app[OPEN_DESKS]
    if len(desks) >= settings.max_desks:
        raise web.HTTPServiceUnavailable(text="too many desks open", content_type="text/plain")
    websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
    width = _size(request.query.get("width"), 80, 20, 500)
    height = _size(request.query.get("height"), 24, 5, 200)
    await websocket.prepare(request)
    desks.add(websocket)
    service = DeskProcess(
        settings.desk_command(session.staff, session.role),
        write_bytes=websocket.send_bytes,
        write_str=websocket.send_str,
        close=websocket.close,  # type: ignore[arg-type]  # its result is not awaited for
        download_manager=request.app[DOWNLOADS],
        debug=False,
    )
    watch = asyncio.create_task(_watch(request, session, websocket))
    try:
        await service.start(width, height)
        await _relay(request, session, websocket, service)
    except asyncio.CancelledError:
        await websocket.close()
    except Exception:
        log.exception("desk for %s failed", session.staff)
    finally:
        watch.cancel()
        # The process is stopped even when this handler is cancelled (a browser gone):
        # shielded, and awaited by the app's cleanup.
        stopping = asyncio.ensure_future(_stop(service, websocket, desks))
        request.app[STOPPING].add(stopping)
        stopping.add_done_callback(request.app[STOPPING].discard)
        await asyncio.shield(stopping)
    return websocket


async def _stop(
    service: DeskProcess, websocket: web.WebSocketResponse, desks: set[web.WebSocketResponse]
) -> None:
    try:
        await service.stop()
    except Exception:
        log.exception("stopping a desk failed")
    finally:
        desks.discard(websocket)  # counted until its process has ended


async def _relay(
    request: web.Request, session: Session, websocket: web.WebSocketResponse, service: AppService
) -> None:
    """The browser's keys and sizes to the desk process (textual-serve's envelope); a key or
    a resize counts as activity for the session's idle clock, a ping does not. The session
    is read again (and its clock restarted) at most every TOUCH_SECONDS, not at each key."""
    book = request.app[SESSIONS]
    checked = time.monotonic()
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = message.json()
            kind = envelope[0]
        except (ValueError, TypeError, IndexError, KeyError):
            continue
        if kind in ("stdin", "resize") and time.monotonic() - checked >= TOUCH_SECONDS:
            checked = time.monotonic()
            if await in_thread(book.get, session.token, True) is None:
                break  # logged out or idle too long
        if kind == "stdin" and isinstance(envelope[1], str):
            await service.send_bytes(envelope[1].encode("utf-8"))
        elif kind == "resize" and isinstance(envelope[1], dict):
            size = envelope[1]
            await service.set_terminal_size(
                _size(str(size.get("width")), 80, 20, 500),
                _size(str(size.get("height")), 24, 5, 200),
            )
        elif kind == "ping":
            await websocket.send_json(["pong", envelope[1]])
        elif kind == "blur":
            await service.blur()
        elif kind == "focus":
            await service.focus()


async def _watch(request: web.Request, session: Session, websocket: web.WebSocketResponse) -> None:
    """Close the desk when its session ends: logged out, idle too long, or disabled."""
    settings, book = request.app[SETTINGS], request.app[SESSIONS]
    while not websocket.closed:
        await asyncio.sleep(settings.check_seconds)
        alive = await in_thread(book.get, session.token, False) is not None
        if alive and not await in_thread(accounts.is_active, session.staff):
            await in_thread(book.end_staff, session.staff)
            alive = False
        if not alive:
            with contextlib.suppress(Exception):
                await websocket.close(code=4401, message=b"session ended")
            return


async def download(request: web.Request) -> web.StreamResponse:
    await require_session(request)
    key = request.match_info["key"]
    manager = request.app[DOWNLOADS]
    try:
        meta = await manager.get_download_metadata(key)
    except KeyError:
        raise web.HTTPNotFound() from None
    response = web.StreamResponse()
    response.content_type = meta.mime_type
    response.headers["Content-Disposition"] = "attachment"
    await response.prepare(request)
    async for chunk in manager.download(key):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _close_desks(app: web.Application) -> None:
    desks: set[web.WebSocketResponse] = app[OPEN_DESKS]
    for websocket in [*desks]:
        with contextlib.suppress(Exception):
            await websocket.close(code=1001, message=b"server shutting down")


async def _desks_stopped(app: web.Application) -> None:
    if app[STOPPING]:
        await asyncio.gather(*app[STOPPING], return_exceptions=True)


def add_routes(app: web.Application) -> None:
    app[DOWNLOADS] = DownloadManager()
    app[OPEN_DESKS] = set()
    app[STOPPING] = set()
    app.on_shutdown.append(_close_desks)
    app.on_cleanup.append(_desks_stopped)
    app.add_routes(
        [
            web.get("/", desk_page, name="desk"),
            web.get("/ws", desk_socket, name="websocket"),
            web.get("/download/{key}", download, name="download"),
            web.static("/static", STATIC, name="static"),
        ]
    )
