"""Run in processes of their own by tests/concurrency/test_backup_faults.py: a desk that keeps
writing (entries added, openings offered and booked) for some seconds.

Launched as `python -c LAUNCH <clock> <url> <seconds> <seed>`: the clock moves from the
suite's frozen instant with real time, as the CLI's does under killing.Runner.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time

LAUNCH = """
import sys, time_machine
time_machine.travel(float(sys.argv[1]), tick=True).start()
from tests.concurrency import backup_faults
backup_faults.write_for(*sys.argv[2:])
"""


def write_for(url: str, seconds: str, seed: str) -> None:
    """Add entries and book openings for `seconds`; print what succeeded as JSON."""
    from waitlist_tui.domain.errors import DomainError
    from waitlist_tui.domain.fill import offers, openings
    from waitlist_tui.domain.store.connect import connect
    from waitlist_tui.domain.waitlist import adding

    connect(url)
    rng = random.Random(int(seed))
    done = {"entries": 0, "booked": 0, "refused": 0}
    end = time.monotonic() + float(seconds)
    n = 0
    while time.monotonic() < end:
        n += 1
        try:
            adding.create(
                {
                    "client": {
                        "first_name": f"W{seed}",
                        "last_name": f"N{n}",
                        "phone": f"617-5{int(seed) % 10}{n // 10000 % 10}-{n % 10000:04d}",
                    },
                    "service": "PT-FU",
                    "payment_type": "SELF_PAY",
                    "date_range_start": "2026-11-23",
                    "date_range_end": "2026-12-18",
                },
                f"writer-{seed}",
            )
            done["entries"] += 1
            if n % 2 == 0:
                day = dt.date(2026, 11, 23) + dt.timedelta(days=rng.randrange(0, 20))
                start = f"{day.isoformat()}T{rng.randrange(7, 18):02d}:{rng.choice(['00', '30'])}"
                opening = openings.add_opening(
                    rng.choice(["KIM", "PATEL"]), start, 30, f"writer-{seed}"
                )
                sent = offers.offer(opening.id, f"writer-{seed}")
                if sent:
                    offers.accept(sent[0].id, f"writer-{seed}")
                    done["booked"] += 1
        except DomainError:
            done["refused"] += 1
    print(json.dumps(done))
    sys.stdout.flush()
