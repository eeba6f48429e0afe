"""The wheel ships every package: `pip install .` with a package missing from pyproject's list
imports fine from a checkout and fails on a new user's machine. (Reads no clock.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "waitlist_tui").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
