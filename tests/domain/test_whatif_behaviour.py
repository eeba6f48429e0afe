"""The what-if behaviour model: the shipped defaults load, each distribution is the one the
TOML documents (sample statistics within tolerance), and a bad model file is refused."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import median

import pytest

from waitlist_tui.domain.errors import ValidationError
from waitlist_tui.domain.whatif import behaviour
from waitlist_tui.domain.whatif.behaviour import unit

N = 20000


def test_defaults_load_with_named_sources() -> None:
    model = behaviour.load()
    text = behaviour.assets.read_text(behaviour.MODEL_FILE)
    for source in ("[VA]", "[SUTTER]", "[EPIC]", "[HP]"):
        assert source in text
    assert model.cancel_probability(0) == pytest.approx(0.19)  # VA: short lead
    assert model.cancel_probability(365) == pytest.approx(0.50)  # VA: 12 months
    assert model.cancel_probability(1000) == pytest.approx(0.50)
    assert model.no_show_rate == pytest.approx(0.23)  # Health Policy 2018


def test_unit_is_uniform_and_keyed() -> None:
    draws = [unit(3, "k", i) for i in range(N)]
    assert all(0 <= d < 1 for d in draws)
    assert sum(draws) / N == pytest.approx(0.5, abs=0.01)
    assert unit(3, "k", 1) == unit(3, "k", 1) != unit(4, "k", 1)


def test_notice_is_exponential_with_the_documented_mean() -> None:
    model = behaviour.load()
    samples = [model.notice_days(unit(1, "n", i)) for i in range(N)]
    assert sum(samples) / N == pytest.approx(model.notice_mean_days, rel=0.05)


def test_delay_is_lognormal_with_the_documented_median() -> None:
    model = behaviour.load()
    samples = [model.delay_minutes(unit(1, "d", i)) for i in range(N)]
    assert median(samples) == pytest.approx(model.delay_median_minutes, rel=0.05)
    logs = [math.log(s) for s in samples]
    mean = sum(logs) / N
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / N)
    assert sd == pytest.approx(model.delay_sigma, rel=0.05)


def test_arrivals_are_poisson_with_the_documented_rate() -> None:
    model = behaviour.load()
    samples = [model.arrivals(unit(1, "a", i)) for i in range(N)]
    mean = sum(samples) / N
    var = sum((s - mean) ** 2 for s in samples) / N
    assert mean == pytest.approx(model.arrivals_per_day, rel=0.05)
    assert var == pytest.approx(model.arrivals_per_day, rel=0.1)  # Poisson: variance = mean


def test_acceptance_by_match_type_and_lead() -> None:
    model = behaviour.load()
    assert model.accept_probability("EXACT", 100) > model.accept_probability("PARTIAL", 100)
    assert model.accept_probability("EXACT", 2) < model.accept_probability("EXACT", 100)


def test_a_model_file_overrides_and_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "m.toml"
    good.write_text("[no_shows]\nrate = 0.1\n")
    assert behaviour.load(good).no_show_rate == pytest.approx(0.1)
    bad = tmp_path / "bad.toml"
    bad.write_text("[answers]\nrespond_smss = 0.5\n")
    with pytest.raises(ValidationError, match="answers.respond_smss is not a setting"):
        behaviour.load(bad)
    worse = tmp_path / "worse.toml"
    worse.write_text("[cancellations]\nrate = [0.1]\n")
    with pytest.raises(ValidationError, match="same length"):
        behaviour.load(worse)
