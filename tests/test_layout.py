"""The layout's loops stay open (import-linter holds the walls; these are the two loops issue
16 opened, which no forbidden contract expresses). (Reads no clock.)"""

from __future__ import annotations

import grimp
import pytest

GRAPH = grimp.build_graph("waitlist_tui")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # the db proxy opened the schema, whose migrations import the modules built on db
        ("waitlist_tui.domain.store.db", "waitlist_tui.domain.store.schema"),
        ("waitlist_tui.domain.store.db", "waitlist_tui.domain.catalog.clients"),
        # app -> launch -> cli -> app, and keycatalog <-> app
        ("waitlist_tui.tui.app", "waitlist_tui.launch"),
        ("waitlist_tui.tui.app", "waitlist_tui.cli"),
        ("waitlist_tui.tui.app", "waitlist_tui.tui.keycatalog"),
    ],
)
def test_no_import_loop_between(one: str, other: str) -> None:
    there = GRAPH.find_shortest_chain(importer=one, imported=other)
    back = GRAPH.find_shortest_chain(importer=other, imported=one)
    assert there is None or back is None, f"{there} and back {back}"
