"""The app says when its database is readable by others, and takes the clinic's backups on
its own timer (`[backup] every_hours`)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.tui.conftest import SIZE, make_test_app, settle
from tests.tui.test_calls import until


async def test_a_database_others_can_read_is_a_warning_on_the_desk(clinic_only_db):
    os.chmod(clinic_only_db, 0o644)
    app = make_test_app()
    app.db_url = clinic_only_db
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: list(app._notifications))
        said = [str(n.message) for n in app._notifications]
        assert any(f"{clinic_only_db} is 0644" in s and "fix-permissions" in s for s in said)


async def test_the_clinics_backup_runs_on_the_apps_timer(clinic_only_db):
    from waitlist_tui.domain.store.models import Clinic

    clinic = Clinic.get()
    Clinic.update(settings={**clinic.settings, "backup": {"every_hours": 24}}).execute()
    app = make_test_app()
    app.db_url = clinic_only_db
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.backup_due()
        await until(pilot, lambda: any("backup" in str(n.title) for n in app._notifications))
        folder = Path(clinic_only_db).parent / "backups"
        assert len([n for n in os.listdir(folder) if n.endswith(".db")]) == 1
        said = [str(n.message) for n in app._notifications if n.title == "backup"]
        assert said and said[0].startswith("backup written:")
