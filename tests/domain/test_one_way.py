"""One way per rule (issue 16): the domain spells each of these in one place, so a second
spelling fails here rather than drifting apart (their behaviour is tested where it is used).
"""

from __future__ import annotations

import re
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "waitlist_tui" / "domain"


def _sources(*skip: str) -> dict[str, str]:
    return {
        str(p.relative_to(DOMAIN)): p.read_text(encoding="utf-8")
        for p in DOMAIN.rglob("*.py")
        if str(p.relative_to(DOMAIN)) not in skip
    }


def test_locking_reads_are_spelled_only_in_store_locking() -> None:
    """FOR UPDATE, advisory locks: store/locking.py (a row lock is `locked(query)`)."""
    spelled = re.compile(r"for_update\(|[\"'][^\"'\n]*FOR UPDATE|pg_(try_)?advisory_")
    found = [name for name, text in _sources("store/locking.py").items() if spelled.search(text)]
    assert found == []


def test_no_write_sets_the_stamp_columns_by_hand() -> None:
    """created_at / created_by / updated_at / updated_by are written by the audited base
    model (store/base.py: create_by, update_by, stamps), which the status move uses too."""
    by_hand = re.compile(r"\b(created|updated)_(at|by)[\"']?\s*[=:]\s*(now|actor|clock\.now)\b")
    found = {
        name: by_hand.findall(text)
        for name, text in _sources("store/base.py").items()
        if by_hand.search(text)
    }
    assert found == {}
