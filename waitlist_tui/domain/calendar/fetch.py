"""A calendar source's bytes: a file, or a feed over HTTP asked conditionally.

A feed is asked with the ETag and Last-Modified of the last answer, so an unchanged feed costs
one 304 and no parsing; a file's size and modification time play the ETag's part. A feed's
address often carries a private token (Google's "secret address in iCal format"), so messages
and stored labels name the source by `label()`, never by its full address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from waitlist_tui.domain.calendar.ical import MAX_BYTES, refuse
from waitlist_tui.domain.errors import ValidationError

TIMEOUT_SECONDS = 10.0
USER_AGENT = "waitlist-tui calendar sync"


@dataclass(frozen=True)
class Fetched:
    data: bytes | None  # None: not changed since the tag given
    tag: str  # ETag (or a file's size and mtime) to send next time
    modified: str  # Last-Modified to send next time


def is_feed(source: str) -> bool:
    return source.lower().startswith(("http://", "https://", "webcal://"))


def label(source: str) -> str:
    """The source as messages show it: a feed's scheme, host and file name, no path token or
    query (they are often the feed's password); a file's path as given."""
    if not is_feed(source):
        return source
    parts = urlsplit(source)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1]
    middle = "/…/" if parts.path.strip("/").count("/") else "/"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{middle}{name}"  # no user:password@ either


def checked_source(source: object, field: str = "calendar.source") -> str:
    """A file path or an http(s)/webcal URL, refused with the field named otherwise."""
    if not isinstance(source, str) or not source.strip():
        raise ValidationError(f"{field} must be a file path or an http(s) URL", field=field)
    source = source.strip()
    if "://" in source and not is_feed(source):
        scheme = source.split("://", 1)[0]
        raise ValidationError(
            f"{field}: {scheme}:// is not supported (a file path, http://, https:// or webcal://)",
            field=field,
        )
    return source


def fetch(
    source: str, tag: str = "", modified: str = "", timeout: float = TIMEOUT_SECONDS
) -> Fetched:
    if is_feed(source):
        return fetch_feed(source, tag, modified, timeout)
    return read_file(source, tag)


def read_file(source: str, tag: str) -> Fetched:
    path = Path(os.path.expanduser(source))
    try:
        info = path.stat()
    except OSError as err:
        raise refuse(source, f"cannot be read: {err.strerror or err}") from None
    if not path.is_file():
        raise refuse(source, "is not a file")
    if info.st_size > MAX_BYTES:
        raise refuse(
            source, f"is {info.st_size / 1e6:.1f} MB, over the {MAX_BYTES // 2**20} MB limit"
        )
    now_tag = f"{info.st_size}-{info.st_mtime_ns}"
    if tag and tag == now_tag:
        return Fetched(None, tag, "")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise refuse(source, f"cannot be read: {err.strerror or err}") from None
    return Fetched(data, now_tag, formatdate(info.st_mtime, usegmt=True))


def fetch_feed(source: str, tag: str, modified: str, timeout: float) -> Fetched:
    # Imported here: urllib.request brings http.client and email (~15 ms), which the desk's
    # start would pay through calendar.sources for a feed it never fetches then.
    import urllib.error
    import urllib.request

    url = (
        "https://" + source[len("webcal://") :]
        if source.lower().startswith("webcal://")
        else source
    )
    headers = {"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"}
    if tag:
        headers["If-None-Match"] = tag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    name = label(source)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            data = answer.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                raise refuse(name, f"is over the {MAX_BYTES // 2**20} MB limit")
            return Fetched(
                data,
                answer.headers.get("ETag", "") or "",
                answer.headers.get("Last-Modified", "") or "",
            )
    except urllib.error.HTTPError as err:
        if err.code == 304:
            return Fetched(None, tag, modified)
        raise refuse(name, f"answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise refuse(name, f"cannot be reached: {err.reason}") from None
    except TimeoutError:
        raise refuse(name, f"did not answer within {timeout:g} s") from None
    except OSError as err:
        raise refuse(name, f"cannot be reached: {err}") from None
