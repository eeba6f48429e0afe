"""Dates in messages in the clinic's locale (Babel): the set-up file's `[clinic] locale`,
checked (a 4xxx error naming the field, nothing written), kept in clinic.settings; an offer's
text then names its slot and deadline as that locale writes them, in the clinic's zone; and
the set-up's SMS fit warnings measure templates with the locale's dates (French "août" holds
a letter GSM-7 lacks)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import STAFF, clinic_without_feeds
from tests.domain.fill_helpers import add_entry, monday_opening
from waitlist_tui.domain.catalog.setup import apply_setup
from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.fill import offers
from waitlist_tui.domain.messaging import local_dates, sms_fit
from waitlist_tui.domain.store.models import AuditEvent, Clinic, Offer, OutboxMessage

# a fixed moment (not "today"): 14:00 UTC on Monday 23 Nov 2026 and Saturday 15 Aug 2026
NOV = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
AUG = dt.datetime(2026, 8, 15, 7, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("locale", "zone", "nov", "aug"),
    [
        (None, "America/New_York", "Mon 23 Nov 09:00", "Sat 15 Aug 03:30"),
        ("en_GB", "Europe/London", "Mon 23 Nov, 14:00", "Sat 15 Aug, 08:30"),
        ("de_DE", "Europe/Berlin", "Mo., 23. Nov., 15:00", "Sa., 15. Aug., 09:30"),
        ("fr_FR", "Europe/Paris", "lun. 23 nov. 15:00", "sam. 15 août 09:30"),
        ("en_US", "America/New_York", "Mon, Nov 23, 9:00 AM", "Sat, Aug 15, 3:30 AM"),
    ],
)
def test_a_moment_reads_as_the_locale_writes_it_in_the_clinics_zone(locale, zone, nov, aug) -> None:
    assert local_dates.format_when(NOV, zone, locale) == nov
    assert local_dates.format_when(AUG, zone, locale) == aug
    assert local_dates.format_when(None, zone, locale) == ""


def test_typographic_spaces_are_plain_so_english_stays_gsm7() -> None:
    text = local_dates.format_when(NOV, "America/New_York", "en_US")
    assert "\u202f" not in text and sms_fit.fit(text).encoding == sms_fit.GSM7


@pytest.mark.parametrize(
    ("given", "kept"), [("fr_FR", "fr_FR"), ("de-DE", "de_DE"), ("en_GB", "en_GB"), ("", None)]
)
def test_a_locale_name_is_checked_and_normalised(given, kept) -> None:
    assert local_dates.parse_locale(given) == kept


@pytest.mark.parametrize("bad", ["xx_YY", "klingon", 42, ["fr_FR"], "f" * 40])
def test_an_unknown_locale_is_refused_naming_the_field(clinic: Clinic, bad) -> None:
    data = clinic_without_feeds()
    data["clinic"]["locale"] = bad
    before = (Clinic.get().settings, AuditEvent.select().count())
    with pytest.raises(ValidationError) as err:
        apply_setup(data, STAFF)
    assert err.value.field == "clinic.locale" and 4000 <= err.value.code < 5000
    assert (Clinic.get().settings, AuditEvent.select().count()) == before


def set_locale(locale: str | None, zone: str | None = None) -> dict:
    data = clinic_without_feeds()
    if locale:
        data["clinic"]["locale"] = locale
    if zone:
        data["clinic"]["time_zone"] = zone
    return apply_setup(data, STAFF)


@pytest.mark.parametrize(
    ("locale", "weekdays"),
    [
        ("en_GB", ("Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun ")),
        ("de_DE", ("Mo.,", "Di.,", "Mi.,", "Do.,", "Fr.,", "Sa.,", "So.,")),
        ("fr_FR", ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")),
    ],
)
def test_an_offers_text_names_its_slot_in_the_clinics_locale(
    clinic: Clinic, locale, weekdays
) -> None:
    set_locale(locale)
    clinic = Clinic.get()
    assert clinic.settings["locale"] == locale
    add_entry("Ana", client={"first_name": "Ana", "last_name": "Lee", "phone": "617-555-0101"})
    opening = monday_opening("09:00")
    sent = offers.offer(opening.id, STAFF)[0]
    message = OutboxMessage.get()
    offer = Offer.get_by_id(sent.id)
    slot = local_dates.format_when(opening.starts_at, clinic.time_zone, locale)
    held = local_dates.format_when(offer.expires_at, clinic.time_zone, locale)
    assert slot.startswith(weekdays[0])  # the opening is on a Monday
    assert slot in message.body and held in message.body
    assert held.startswith(weekdays)


def test_the_locale_is_audited_and_leaving_it_out_goes_back_to_the_desks_wording(
    clinic: Clinic,
) -> None:
    set_locale("fr_FR")
    changed = AuditEvent.select().order_by(AuditEvent.id.desc()).get().changes
    assert changed["settings.locale"] == [None, "fr_FR"]
    set_locale(None)
    assert "locale" not in Clinic.get().settings
    changed = AuditEvent.select().order_by(AuditEvent.id.desc()).get().changes
    assert changed["settings.locale"] == ["fr_FR", None]


def test_setup_warns_when_the_locales_dates_turn_texts_into_ucs2(clinic: Clinic) -> None:
    assert set_locale("de_DE", "Europe/Berlin")["warnings"] == []
    warnings = set_locale("fr_FR", "Europe/Paris")["warnings"]
    offer = next(w for w in warnings if "the offer text" in w)
    assert "UCS-2" in offer and "fr_FR" in offer and "août" in offer and "U+00FB" in offer
    assert sms_fit.date_sample("fr_FR", "Europe/Paris") == "sam. 15 août 09:00"
    assert sms_fit.fit(sms_fit.date_sample("en_GB")).encoding == sms_fit.GSM7
