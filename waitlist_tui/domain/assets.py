"""Files shipped with the package (the demo clinic, sample imports, message templates).

A source checkout reads its own assets/ (beside the package), an installed wheel reads
waitlist_tui.assets: so a working copy never picks up another checkout's files through an
editable install's mapping.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

_SOURCE_ASSETS = Path(__file__).resolve().parents[2] / "assets"


def read_text(name: str) -> str:
    local = _SOURCE_ASSETS / name
    if (_SOURCE_ASSETS / "__init__.py").is_file() and local.is_file():
        return local.read_text(encoding="utf-8")
    return resources.files("waitlist_tui.assets").joinpath(name).read_text(encoding="utf-8")


def directory() -> Path:
    """Where the assets are as files (the demo's calendar feeds are read from there)."""
    if (_SOURCE_ASSETS / "__init__.py").is_file():
        return _SOURCE_ASSETS
    return Path(str(resources.files("waitlist_tui.assets")))


def demo_clinic() -> dict[str, Any]:
    """The demo clinic file, its calendar files named by their place among the assets (the
    file's own relative paths are relative to it, wherever the caller runs)."""
    data = tomllib.loads(read_text("demo_clinic.toml"))
    for provider in data.get("providers", []):
        for calendar in provider.get("calendars", []):
            source = calendar.get("source")
            if isinstance(source, str) and "://" not in source and not Path(source).is_absolute():
                calendar["source"] = str(directory() / source)
    return data
