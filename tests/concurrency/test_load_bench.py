"""The load bench runs (two desks for two seconds, on each backend): no error, every
invariant holds. Its figures are not checked here: tests/bench/load_bench.py prints them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.conftest import PG_BASE, _pg_answers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_desks_for_two_seconds(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = str(tmp_path / "load.db")
    elif not _pg_answers():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    else:
        name = f"loadbench_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        url = urlunparse(urlparse(PG_BASE)._replace(path=f"/{name}"))
    bench = str(ROOT / "tests/bench/load_bench.py")
    short = ["--desks", "2", "--seconds", "2", "--entries", "300"]
    done = subprocess.run(
        [sys.executable, bench, "--db", url, *short],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["errors"] == {}
    assert figures["invariants_broken"] == []
    assert figures["ops"] > 0
    assert set(figures["kinds"]) <= {"search", "open", "add", "offer", "accept", "decline"}
    if backend == "sqlite":
        assert not Path(url).exists()  # the bench's database is dropped after the run
