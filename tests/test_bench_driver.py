"""The benchmark's driver (tests/bench/bench.py), not its timings: both backends in one run give
each figure's PostgreSQL/SQLite ratio, and bytecode goes to a scratch PYTHONPYCACHEPREFIX, not
into the checkout. (Times are printed, never asserted.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))
    # main() points this process's bytecode elsewhere: put both back afterwards
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", "")
    monkeypatch.setattr(sys, "pycache_prefix", sys.pycache_prefix)
    import bench as module

    return module


def test_ratios_are_postgres_over_sqlite_per_timed_figure(bench) -> None:
    sqlite = {"a_ms": {"median": 4.0}, "b_ms": {"median": 0.0}, "seed_s": 1.5}
    postgres = {"a_ms": {"median": 6.0}, "b_ms": {"median": 1.0}, "seed_s": 2.0, "c_ms": None}
    assert bench.ratios(sqlite, postgres) == {"a_ms": 1.5}
    assert "1.50x" in bench.ratio_table(sqlite, postgres)


def test_two_databases_of_one_kind_are_refused(bench, tmp_path) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--db", str(tmp_path / "a.db"), "--db", str(tmp_path / "b.db")])
    with pytest.raises(SystemExit):
        bench.main(["--compare-pg", str(tmp_path / "a.db")])


def test_both_backends_in_one_run_print_the_ratios(
    bench, tmp_path, fresh_pg_url, capsys, frozen
) -> None:
    quick = ["--entries", "0", "--runs", "1", "--repeat", "1", "--only", "first_page"]
    code = bench.main([*quick, "--db", str(tmp_path / "w.db"), "--compare-pg", fresh_pg_url])
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert code == 0
    assert set(report["results"]) == {"sqlite", "postgresql"}
    assert set(report["pg_to_sqlite"]) == {"first_page_ms"}
    assert "PG/SQLite" in out.err
    assert sys.pycache_prefix and "waitlist-bench-" in sys.pycache_prefix
