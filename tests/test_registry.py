"""The method registry: what every registration must declare, and the same
behaviour checks run over every registered method (a new rule is tested for free)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from test_algorithms import tiny_batches, tiny_context

from milenas_lib.algorithms import UpdateRule, builds, make_rule, rules
from milenas_lib.algorithms.methods import unbuilt_methods
from milenas_lib.config import METHODS, ConfigError, SearchConfig, search_config
from milenas_lib.names import ORDERS
from milenas_lib.registry import (METHOD_REGISTRY, Method, UnknownMethodError, get_method, method_names,
                                  register_method)

NAMES = method_names()
SEARCH_FIELDS = {f.name for f in dataclasses.fields(SearchConfig)}


def test_importing_the_config_does_not_import_torch():
    code = "import sys, milenas_lib.config; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_registry_drives_the_config():
    assert METHODS == NAMES == tuple(METHOD_REGISTRY)
    assert not unbuilt_methods(), "registered without a @builds builder in algorithms/methods.py"
    assert {"single_level", "darts_1st", "darts_2nd", "milenas", "switch", "gdas", "milenas_gumbel"} <= set(NAMES)


@pytest.mark.parametrize("missing", ["label", "alpha_gradient", "equation"])
def test_a_registration_without_its_facts_is_refused(missing):
    facts = {**dict(label="x", alpha_gradient="∇α x", equation="Eq. 0", passes=1), missing: ""}
    with pytest.raises(ValueError, match=missing):
        Method(name="incomplete", **facts)
    with pytest.raises(ValueError, match="passes"):
        Method(name="incomplete", **{**facts, missing: "x", "passes": 0})


def test_a_name_registers_once_and_phases_must_exist():
    with pytest.raises(ValueError, match="registered twice"):
        register_method("milenas", label="x", alpha_gradient="x", equation="x", passes=1)
    with pytest.raises(ValueError, match="two builders"):
        builds("milenas")(lambda config: None)
    with pytest.raises(UnknownMethodError):
        builds("not_registered")(lambda config: None)
    with pytest.raises(ValueError, match="not registered"):
        Method(name="y", label="y", alpha_gradient="y", equation="y", passes=1,
               phases=("nope",))
    assert METHOD_REGISTRY["milenas"].label == "MiLeNAS"


def test_unknown_names_list_the_valid_ones():
    valid = "valid methods are: " + ", ".join(NAMES)
    with pytest.raises(UnknownMethodError, match=valid):
        get_method("enas")
    with pytest.raises(ConfigError, match=valid):
        SearchConfig(method="enas")


@pytest.mark.parametrize("name", NAMES)
def test_every_method_declares_what_the_kit_reads(name):
    method = get_method(name)
    assert method.name == name and method.label and "∇α" in method.alpha_gradient
    assert "Eq." in method.equation or "§" in method.equation
    assert set(method.paper_overrides) <= SEARCH_FIELDS
    assert all(phase in METHOD_REGISTRY for phase in method.phases)
    rule = make_rule(SearchConfig(method=name))
    assert rule.name == name
    if method.phases:
        assert (rule.before.name, rule.after.name) == method.phases
    assert "Eq." in type(rule).__doc__ or "§" in type(rule).__doc__, "a rule's docstring cites its equation"


@pytest.mark.parametrize("name", NAMES)
def test_the_paper_preset_applies_each_method_protocol(name):
    method = get_method(name)
    paper, smoke = search_config("paper", method=name), search_config("smoke", method=name)
    for setting, value in method.paper_overrides.items():
        assert getattr(paper, setting) == value
    untouched = SEARCH_FIELDS - set(method.paper_overrides) - {"method"}
    assert all(getattr(paper, f) == getattr(SearchConfig(), f) for f in untouched)
    assert (smoke.epochs, smoke.batch_size) == (search_config("smoke").epochs, search_config("smoke").batch_size)


def test_every_rule_class_is_reachable_from_the_registry():
    """A rule written in rules.py but never registered fails here."""
    built = set()
    for name in NAMES:
        rule = make_rule(SearchConfig(method=name))
        built |= {type(rule)} | {type(getattr(rule, part)) for part in ("before", "after") if hasattr(rule, part)}
    written = {cls for cls in vars(rules).values()
               if isinstance(cls, type) and issubclass(cls, UpdateRule) and cls.__module__ == rules.__name__
               and "step" in vars(cls)}
    assert written <= built, f"not registered in algorithms/methods.py: {sorted(c.__name__ for c in written - built)}"


def count_forwards(ctx) -> list[int]:
    """Forward passes of the supernet (also through functional_call)."""
    calls: list[int] = []
    ctx.model.register_forward_hook(lambda module, args, output: calls.append(1))
    return calls


@pytest.mark.parametrize("name", NAMES)
def test_one_step_of_every_method_moves_alpha_and_w_in_its_declared_passes(name):
    method = get_method(name)
    ctx = tiny_context()
    before_alpha = [a.detach().clone() for a in ctx.alphas()]
    before_w = [p.detach().clone() for p in ctx.model.weights()]
    rule = make_rule(SearchConfig(method=name, epochs=4))
    rule.new_epoch(0, 4)
    forwards = count_forwards(ctx)
    stats = rule.step(ctx, tiny_batches(1)[0])
    assert len(forwards) == rule.passes == method.passes
    assert torch.isfinite(torch.tensor(stats.train_loss)) and stats.n == 6 and 0 <= stats.train_correct <= 6
    assert (stats.alpha_s > 0) == method.moves_alpha and stats.w_s > 0
    assert any(not torch.equal(a, b) for a, b in zip(ctx.alphas(), before_alpha)) == method.moves_alpha
    assert any(not torch.equal(p, b) for p, b in zip(ctx.model.weights(), before_w))
    json.dumps(rule.describe())
    rule.load_state_dict(rule.state_dict())


def state_after_one_step(name: str, **config) -> torch.Tensor:
    """α and w after one step in the method's last epoch (where `switch` runs its MiLeNAS phase)."""
    ctx = tiny_context()
    rule = make_rule(SearchConfig(method=name, epochs=4, **config))
    rule.new_epoch(3, 4)
    forwards = count_forwards(ctx)
    rule.step(ctx, tiny_batches(1)[0])
    assert len(forwards) == rule.passes
    return torch.cat([p.detach().flatten() for p in ctx.alphas() + ctx.weights()])


@pytest.mark.parametrize("name", NAMES)
def test_lambda_changes_the_step_exactly_when_the_method_takes_it(name):
    changed = not torch.equal(state_after_one_step(name, lam=0.1), state_after_one_step(name, lam=10.0))
    assert changed == get_method(name).takes_lambda
    assert ("λ = 0.1" in get_method(name).label_for(0.1)) == get_method(name).takes_lambda


@pytest.mark.parametrize("name", NAMES)
def test_the_order_changes_the_step_exactly_when_the_method_has_one(name):
    passes = {order: make_rule(SearchConfig(method=name, order=order, epochs=4)) for order in ORDERS}
    for rule in passes.values():
        rule.new_epoch(3, 4)
    assert (passes["alpha_then_w"].passes == passes["simultaneous"].passes + 1) == get_method(name).has_order
    assert (passes["w_then_alpha"].passes == passes["alpha_then_w"].passes) or not get_method(name).has_order
    # Same Eq. 5 direction, taken at other points: every order gives another state.
    states = [state_after_one_step(name, order=order) for order in ORDERS]
    differs = [not torch.equal(a, b) for i, a in enumerate(states) for b in states[i + 1:]]
    assert differs == [get_method(name).has_order] * len(differs)
