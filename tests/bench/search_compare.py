"""What a set of searches shows, as JSON, to compare two versions of the code on one database.

    PYTHONPATH=$PWD python tests/bench/search_compare.py --db FILE_OR_URL --out a.json [--exact]
    python tests/bench/search_compare.py --diff a.json b.json

Each search is listed as the queue asks for it (first and second page, another sort, another
status, a count capped at 1,000) and, with --exact, as the CLI does (exact count): the entry
ids in order, the count and whether it is capped. Texts: prefixes of the bench's own texts
(a last name, a first and last name, a phone's last four digits, an email fragment), one and
two characters, email parts, LIKE's wildcards, non-ASCII, no match. Run it once with each
version's PYTHONPATH (on copies: a newer version migrates the database) and --diff the files.

A capped count below the cap on PostgreSQL is a floor ("of 547+": the matches among the first
entries walked), and before the branch search3 the entries walked were whichever the table
gave first, so it changed from one read to the next; --diff reports those apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from waitlist_tui.domain import session
from waitlist_tui.domain.catalog.clinics import get_clinic
from waitlist_tui.domain.waitlist.listing import EntryQuery, list_entries

TEXTS = [
    "g", "ga", "gar", "garc", "garci", "garcia", "an", "e", "z", "zz", "qx", "zzzz", "emma",
    "emma chen", "chen emma", "em ch", "1", "19", "5", "55", "555", "@", ".com", "ava.",
    "ava.b", "gmail", "x y", "q", "ÿ", "100%", "a_b",
]  # fmt: skip
CAP = 1000


def specs(exact: bool) -> list[dict[str, Any]]:
    from bench import search_texts

    texts = list(TEXTS)
    for value in search_texts().values():
        texts.extend(value[:end] for end in range(1, len(value) + 1))
    found: list[dict[str, Any]] = []
    for text in dict.fromkeys(texts):
        found.append({"search": text, "limit": 50, "count_cap": CAP})
        found.append({"search": text, "limit": 50, "offset": 50, "count_cap": CAP})
        found.append({"search": text, "limit": 50, "count_cap": CAP, "sort": "wait"})
        found.append({"search": text, "limit": 50, "count_cap": CAP, "statuses": ("waiting",)})
        if exact:
            found.append({"search": text, "limit": 50})
    return found


def dump(url: str, out: str, exact: bool) -> None:
    session.open_database(url)
    clinic = get_clinic()
    rows = []
    for spec in specs(exact):
        page = list_entries(EntryQuery(**spec), clinic)
        rows.append(
            {
                "spec": {key: str(value) for key, value in spec.items()},
                "ids": [str(view.id) for view in page.items],
                "total": page.total,
                "capped": page.total_capped,
            }
        )
    Path(out).write_text(json.dumps(rows, indent=0))
    print(f"{len(rows)} searches written to {out}")


def diff(first: str, second: str) -> int:
    one, two = json.loads(Path(first).read_text()), json.loads(Path(second).read_text())
    if [row["spec"] for row in one] != [row["spec"] for row in two]:
        print("the files list different searches")
        return 2
    same = floors = other = 0
    for a, b in zip(one, two, strict=True):
        if a == b:
            same += 1
        elif (
            a["ids"] == b["ids"]
            and a["capped"]
            and b["capped"]
            and max(a["total"], b["total"]) < CAP
        ):
            floors += 1
            print(f"floor {a['spec']}: {a['total']}+ / {b['total']}+")
        else:
            other += 1
            print(f"DIFFERENT {a['spec']}: {a['total']} {a['capped']} / {b['total']} {b['capped']}")
    print(f"{len(one)} searches: {same} identical, {floors} floors only, {other} different")
    return 1 if other else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--out")
    parser.add_argument("--exact", action="store_true", help="the CLI's exact counts too")
    parser.add_argument("--diff", nargs=2, metavar="JSON")
    args = parser.parse_args()
    if args.diff:
        return diff(*args.diff)
    if not args.db or not args.out:
        parser.error("--db and --out, or --diff")
    dump(args.db, args.out, args.exact)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
