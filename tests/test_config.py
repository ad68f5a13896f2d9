"""Typed config overrides: a value keeps its field's type or is refused (hypothesis)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from milenas_lib.config import METHODS, ConfigError, SearchConfig, search_config


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
