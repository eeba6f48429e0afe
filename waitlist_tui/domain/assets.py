"""Files shipped with the package (the demo clinic, sample imports)."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any


def read_text(name: str) -> str:
    return resources.files("waitlist_tui.assets").joinpath(name).read_text(encoding="utf-8")


def demo_clinic() -> dict[str, Any]:
    return tomllib.loads(read_text("demo_clinic.toml"))
