"""The demo's stories (issue 22): a knock-on chain and a gap `stats demand` names, played
through the domain after the bulk build, on both backends."""

from __future__ import annotations

from tests.conftest import STAFF
from waitlist_tui.demo import build as demo
from waitlist_tui.demo.stories import add_stories
from waitlist_tui.domain.stats.chains import knock_on_chains
from waitlist_tui.domain.stats.demand import demand
from waitlist_tui.domain.store.models import Opening


def test_the_demo_stories_make_a_chain_and_an_unmet_gap(db) -> None:
    demo.build(entries=240, seed=5)
    told = add_stories(STAFF)
    assert told["knock_on"] == {"moved_up": 2, "chains": 1}
    assert told["saturday_entries"] == 5
    chain = knock_on_chains().chains[0]
    assert chain.length == 2 and chain.refilled == 2 and chain.days_sooner > 0
    assert Opening.select().where(Opening.source == "knock_on").count() == 2
    found = demand()
    saturday = next(
        c
        for c in found.cells
        if (c.service, c.provider, c.weekday, c.part) == ("PT-FU", "KIM", "SATURDAY", "MORNING")
    )
    assert saturday.waiting == saturday.no_free_slot == 5
    assert found.suggestions and found.no_free_slot_total >= 5
