"""How long a simulated month takes (`waitlist-tui simulate`), and what it counted.

    PYTHONPATH=$PWD python tests/bench/simulate_bench.py [--entries 2000] [--days 30]

Builds the demo clinic with N entries in a scratch file, then runs the clinic's current
settings for N days on a copy; prints the wall time of the world's draw and the run, and the
figures (per-offer acceptance is the calibration figure: the published 8.3-11%)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from waitlist_tui.demo.scratch import demo_file
from waitlist_tui.domain.whatif.compare import compare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        source = demo_file(Path(scratch) / "demo.db", args.entries, args.seed)
        t1 = time.perf_counter()
        result = compare(source, [], seed=args.seed, days=args.days)
        t2 = time.perf_counter()
    print(f"demo build ({args.entries} entries): {t1 - t0:.1f} s")
    print(f"simulated {args.days} days: {t2 - t1:.1f} s")
    print(json.dumps(result.to_dict(), indent=1, default=str))


if __name__ == "__main__":
    main()
