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


def demo_clinic() -> dict[str, Any]:
    return tomllib.loads(read_text("demo_clinic.toml"))
