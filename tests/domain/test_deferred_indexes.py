"""A bulk write's secondary indexes dropped and built once at its end (store/deferred_indexes):
only for a table the write outgrows, only non-unique ones, back as they were (text and planner
statistics) after the write, and untouched by a write that rolls back. SQLite only: on
PostgreSQL a shared database keeps its indexes (a test says so)."""

from __future__ import annotations

import pytest

from waitlist_tui.domain.store.db import database, is_postgres
from waitlist_tui.domain.store.deferred_indexes import deferred_indexes


def _indexes(table: str) -> list[tuple[str, str]]:
    sql = (
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
        "AND indexname NOT LIKE '%%_pkey' ORDER BY indexname"
        if is_postgres()
        else "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY name"
    )
    return [(str(name), str(text)) for name, text in database.execute_sql(sql, (table,))]


@pytest.fixture
def sqlite_only(clinic: object) -> None:
    if is_postgres():
        pytest.skip("SQLite only: PostgreSQL keeps its indexes")


@pytest.mark.usefixtures("clinic")
def test_postgresql_keeps_its_indexes_so_other_desks_are_not_locked_out() -> None:
    if not is_postgres():
        pytest.skip("PostgreSQL: DROP INDEX would lock the table until the import commits")
    before = _indexes("entry")
    with database.atomic(), deferred_indexes(["entry"], 10):
        assert _indexes("entry") == before


@pytest.mark.usefixtures("sqlite_only")
def test_a_table_the_write_outgrows_has_its_indexes_made_again_at_the_end() -> None:
    before = _indexes("entry_provider")
    unique = [i for i in before if i[1].upper().startswith("CREATE UNIQUE")]
    assert unique and len(unique) < len(before)  # the unique one stays
    with database.atomic():
        with deferred_indexes(["entry_provider"], 10):
            assert _indexes("entry_provider") == unique
        assert _indexes("entry_provider") == before
    assert _indexes("entry_provider") == before
    assert database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.usefixtures("sqlite_only")
def test_a_table_holding_more_rows_than_the_write_adds_keeps_its_indexes() -> None:
    before = _indexes("provider")
    rows = database.execute_sql("SELECT COUNT(*) FROM provider").fetchone()[0]
    assert rows > 1
    with database.atomic(), deferred_indexes(["provider"], rows - 1):
        assert _indexes("provider") == before
    with database.atomic(), deferred_indexes(["provider"], rows, least=rows + 1):
        assert _indexes("provider") == before  # too small a write to bother


@pytest.mark.usefixtures("sqlite_only")
def test_a_rollback_leaves_the_indexes_and_their_statistics_as_they_were() -> None:
    database.execute_sql("ANALYZE")
    database.execute_sql(  # an empty table has none: as a full one would have
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('entry', 'entry_status_expires_at', "
        "'1000 500 2')"
    )
    stats = "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = 'entry' ORDER BY idx"
    before, before_stats = _indexes("entry"), database.execute_sql(stats).fetchall()
    with pytest.raises(RuntimeError), database.atomic(), deferred_indexes(["entry"], 10):
        assert _indexes("entry") != before
        raise RuntimeError("the write failed")
    assert _indexes("entry") == before
    with database.atomic(), deferred_indexes(["entry"], 10):
        pass
    assert _indexes("entry") == before
    assert ("entry", "entry_status_expires_at", "1000 500 2") in before_stats
    assert database.execute_sql(stats).fetchall() == before_stats


@pytest.mark.usefixtures("sqlite_only")
def test_a_rollback_leaves_the_indexes_as_they_were() -> None:
    before = _indexes("entry")
    with pytest.raises(RuntimeError), database.atomic(), deferred_indexes(["entry"], 10):
        assert len(_indexes("entry")) < len(before)
        raise RuntimeError("the write failed")
    assert _indexes("entry") == before
