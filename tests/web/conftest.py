"""The served desk through aiohttp's test client: `client` holds one manager account."""

from __future__ import annotations

import re

import pytest

from waitlist_tui.domain.access import accounts
from waitlist_tui.web.app import make_app
from waitlist_tui.web.settings import WebSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(db, db_url: str) -> WebSettings:
    accounts.add_staff("ana", "manager", PASSWORD, actor="admin")
    return WebSettings(db_url=db_url, check_seconds=0.2)


@pytest.fixture
async def client(aiohttp_client, settings: WebSettings):
    return await aiohttp_client(make_app(settings))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def log_in(client, name: str = "ana", password: str = PASSWORD, **extra):
    page = await client.get("/login")
    token = csrf_of(await page.text())
    return await client.post(
        "/login",
        data={"csrf": token, "name": name, "password": password, **extra},
        allow_redirects=False,
    )
