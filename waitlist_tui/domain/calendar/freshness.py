"""How fresh the clinic's calendars are, as the queue and the finder say it.

Kept apart from sync.py, which brings in the fetcher, the iCalendar reader and the fill
engine: the queue asks this as the app starts, and importing all of that held its first page
back by ~40 ms.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from peewee import ModelSelect

from waitlist_tui.domain.calendar.sources import IMPORTED
from waitlist_tui.domain.store.models import CalendarSource, Clinic, Provider

STALE_AFTER = dt.timedelta(hours=1)  # a source not read for this long is called stale


def clinic_sources(clinic: Clinic) -> ModelSelect[CalendarSource]:
    """Every calendar source of the clinic's providers, with its provider."""
    return (
        CalendarSource.select(CalendarSource, Provider)
        .join(Provider)
        .where(Provider.clinic == clinic)
    )


def sync_minutes(clinic: Clinic) -> int:
    settings = (clinic.settings or {}).get("calendar") or {}
    return int(settings.get("sync_minutes", 15))


def freshness(clinic: Clinic, now: dt.datetime) -> tuple[str, bool] | None:
    """What the desk should know of its calendars, and whether it is a warning: the failed
    ones (with their error), else the stale ones, else when they were last read. None when
    the clinic has no calendar source to sync (imported files are not synced)."""
    zone = ZoneInfo(clinic.time_zone)
    query = clinic_sources(clinic).order_by(Provider.code, CalendarSource.created_at)
    synced = [s for s in query if not s.source.startswith(IMPORTED)]
    if not synced:
        return None
    failed = [s for s in synced if s.error]  # cleared by the next sync that works
    if failed:
        first = failed[0]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{first.provider.code} calendar failed: {first.error}{more}", True
    stale_after = max(STALE_AFTER, dt.timedelta(minutes=3 * sync_minutes(clinic)))
    stale = [s for s in synced if not s.synced_at or now - s.synced_at > stale_after]
    if stale:
        codes = ", ".join(sorted({s.provider.code for s in stale}))
        return f"calendar not synced for over {_span(stale_after)}: {codes}", True
    oldest = min(s.synced_at for s in synced if s.synced_at)
    return f"calendars synced {oldest.astimezone(zone):%H:%M}", False


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
