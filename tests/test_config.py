"""Typed config overrides: a value keeps its field's type or is refused (hypothesis)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from milenas_lib.config import METHODS, ConfigError, SearchConfig, search_config
from milenas_lib.records.provenance import REPO_ROOT


@given(lam=st.floats(allow_nan=True, allow_infinity=True))
def test_lambda_is_accepted_exactly_when_finite_and_non_negative(lam):
    if math.isfinite(lam) and lam >= 0:
        assert search_config("smoke", method="milenas", lam=lam).lam == lam
    else:
        with pytest.raises(ConfigError, match="λ"):
            search_config("smoke", method="milenas", lam=lam)


@given(epochs=st.integers(-5, 500), batch=st.integers(-5, 512), C=st.integers(-4, 64), layers=st.integers(-2, 20))
def test_integer_settings_must_be_positive_and_sensible(epochs, batch, C, layers):
    ok = epochs > 0 and batch > 0 and C > 0 and C % 2 == 0 and layers >= 3
    overrides = dict(epochs=epochs, batch_size=batch, C=C, layers=layers, method="darts_1st")
    if ok:
        config = search_config("smoke", **overrides)
        assert (config.epochs, config.batch_size, config.C, config.layers) == (epochs, batch, C, layers)
    else:
        with pytest.raises(ConfigError):
            search_config("smoke", **overrides)


@given(value=st.one_of(st.text(max_size=5), st.floats(allow_nan=False), st.booleans(), st.none()))
def test_an_int_field_refuses_other_types(value):
    with pytest.raises(ConfigError):
        SearchConfig().override(epochs=value)


@given(value=st.integers(1, 10**6))
def test_a_float_field_accepts_an_int_as_float(value):
    config = SearchConfig().override(w_lr=value, w_lr_min=0)
    assert isinstance(config.w_lr, float) and config.w_lr == value


@given(method=st.text(max_size=12))
def test_unknown_methods_list_the_valid_ones(method):
    if method in METHODS:
        assert SearchConfig(method=method).method == method
        return
    with pytest.raises(ConfigError, match="valid methods are: " + ", ".join(METHODS)):
        SearchConfig(method=method)


def test_overrides_never_mutate_the_preset():
    base = search_config("smoke")
    changed = base.override(epochs=7)
    assert base.epochs == 2 and changed.epochs == 7
    with pytest.raises(AttributeError):
        base.epochs = 3  # type: ignore[misc]


def test_presets_and_overrides():
    paper = search_config("paper", method="milenas")
    assert (paper.C, paper.layers, paper.batch_size, paper.epochs) == (16, 8, 64, 50)
    gdas = search_config("paper", method="gdas")
    assert (gdas.batch_size, gdas.epochs) == (128, 250)
    assert search_config("smoke", method="gdas").batch_size == search_config("smoke").batch_size
    assert search_config("smoke", method="darts_2nd", epochs=3).epochs == 3
    with pytest.raises(ConfigError, match="must be int"):
        search_config("smoke", epochs=2.5)
    with pytest.raises(ConfigError, match="valid settings"):
        search_config("smoke", epoch=3)
    with pytest.raises(ConfigError, match="valid presets are: paper, smoke"):
        search_config("fast")


def test_the_smoke_switch_runs_both_phases():
    """The smoke preset's 2 epochs: 0.7 x 2 = 1.4 rounds to 1, so epoch 0 is
    bilevel and epoch 1 MiLeNAS, with no switch_epoch written in the preset."""
    config = search_config("smoke", method="switch")
    assert config.switch_epoch is None and config.switch_at == 1 and config.epochs == 2


def test_a_paper_switch_of_any_length_is_accepted():
    for epochs, switch_at in ((50, 35), (200, 140), (10, 7)):
        assert search_config("paper", method="switch", epochs=epochs).switch_at == switch_at
    with pytest.raises(ConfigError, match="switch_fraction"):
        search_config("paper", method="switch", switch_fraction=0.0)


def test_settings_added_later_leave_stored_run_identities_alone():
    """val_per_class and eval_batch_size at their default are not part of the identity, so the committed
    medium runs keep their folders; set, they make a new run."""
    from milenas_lib.records.identity import identity_hash, run_identity

    medium = search_config("medium", method="gdas", seed=0)
    folders = sorted((REPO_ROOT / "results" / "runs" / "medium" / "gdas").glob("seed0-*"))
    assert folders and folders[0].name == f"seed0-{identity_hash(run_identity(medium, None))}"
    longer = medium.override(val_per_class=250)
    assert identity_hash(run_identity(longer, "x")) != identity_hash(run_identity(medium, "x"))


def test_the_long_preset_gives_the_gumbel_rules_their_own_steps_and_alpha_rate():
    softmax, gumbel = search_config("long", method="milenas"), search_config("long", method="gdas")
    assert (softmax.epochs, gumbel.epochs) == (16, 80) and gumbel.batch_size == softmax.batch_size == 16
    # α's farthest travel (rate x steps, 31 steps per epoch) equals the paper's within 2 %.
    paper = 3e-4 * 50 * (25_000 // 64)
    assert abs(softmax.alpha_lr * 16 * 31 / paper - 1) < 0.02
    assert search_config("long", method="milenas", epochs=3).epochs == 3  # overrides still win
