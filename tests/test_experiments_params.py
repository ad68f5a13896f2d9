"""Notebook parameters as papermill passes them: every one read or refused in one line before any file is touched."""
from __future__ import annotations

import json

import pytest
import torch

from milenas_lib import experiments as ex
from milenas_lib.experiments import params, store
from milenas_lib.experiments.notebook_specs import SPECS
from milenas_lib.experiments.params import ParameterError
from milenas_lib.paper import settings
from milenas_lib.presets import PRESETS


@pytest.mark.parametrize("given, preset, expected", [
    (None, "paper", [0, 1, 2, 3]),
    (None, "smoke", [0]),
    ("[0,1,2,3]", "smoke", [0, 1, 2, 3]),       # papermill -p seeds '[0,1,2,3]'
    ("0, 1", "smoke", [0, 1]),
    ("0 1", "smoke", [0, 1]),
    (3, "smoke", [3]),                          # papermill -p seeds 3
    ((4, 5), "smoke", [4, 5]),
])
def test_seeds_are_read_from_any_papermill_form(given, preset, expected):
    assert params.resolve_seeds(given, preset) == expected


@pytest.mark.parametrize("given", [1.5, True, "[0, True]", "[1.0]", ["a"], -1, 2**64, "x", "[]"])
def test_seeds_that_would_silently_become_another_seed_are_refused(given):
    with pytest.raises(ParameterError, match="seeds"):
        params.resolve_seeds(given, "smoke")


@pytest.mark.parametrize("given, expected", [(True, True), (False, False), ("false", False), ("False", False),
                                             ("TRUE", True), (" true ", True)])
def test_flags_read_papermill_text(given, expected):
    assert params.resolve_flag(given, "reuse_only") is expected


@pytest.mark.parametrize("given", ["no", "0", 1, 0, None, "yes"])
def test_flags_refuse_anything_but_true_and_false(given):
    with pytest.raises(ParameterError, match="reuse_only must be True or False"):
        params.resolve_flag(given, "reuse_only")


@pytest.mark.parametrize("name, value, message", [
    ("preset", "huge", "unknown preset 'huge'; valid presets are: paper, smoke, medium, long"),
    ("seeds", 1.5, "seeds must be a list of integers"),
    ("seeds", True, "seeds must be a list of integers"),
    ("reuse_only", "maybe", "reuse_only must be True or False"),
    ("device", "tpu", "unknown device 'tpu'; valid devices are: auto, cpu, cuda"),
    ("data_root", "/no/such/folder", "data_root '/no/such/folder' is not an existing folder"),
    ("search_overrides", "[1, 2]", "search_overrides must be a mapping"),
    ("search_overrides", {"epochs": "3"}, "search_overrides: setting 'epochs' must be int"),
    ("search_overrides", {"epoch": 3}, "search_overrides: unknown setting 'epoch'"),
    ("train_overrides", {"epochs": "x"}, "train_overrides: setting 'epochs' must be int"),
    ("lam", "much", "lam must be a number of at least 0"),
    ("lam", -1, "lam must be a number of at least 0"),
    ("points", 1, "points must be an integer of at least 2"),
    ("points", 2.5, "points must be an integer"),
    ("smooth_window", 0, "smooth_window must be an integer of at least 1"),
    ("dtype", "float16", "unknown dtype 'float16'; valid dtypes are: float64, float32"),
    ("method", "dart", "unknown method 'dart'; valid methods are:"),
    ("methods", "gdas, nope", "methods must name known settings"),
    ("genotypes", [1, 2], "genotypes must be a list of names"),
    ("sweep_epsilons", "[]", "sweep_epsilons must be a non-empty list of numbers"),
    ("include_searched", "1", "include_searched must be True or False"),
    ("colour", "red", "declares no parameter(s) ['colour']"),
])
def test_a_bad_parameter_is_one_line_naming_it(tmp_path, name, value, message):
    notebook = next((spec.name for spec in SPECS.values() if name in spec.all_parameters), "01_search_walkthrough")
    with pytest.raises(ParameterError) as error:
        ex.open_notebook(notebook, output_root=tmp_path, **{name: value})
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not any(tmp_path.iterdir()), "a refused notebook must not write anything"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_not_read_from_cpu_runs(tmp_path):
    with pytest.raises(ParameterError, match="device: .*no CUDA GPU"):
        ex.open_notebook("01_search_walkthrough", device="cuda", output_root=tmp_path)


def test_a_failing_notebook_keeps_the_last_good_manifest(tmp_path):
    manifest = tmp_path / "results" / "smoke" / "02_x" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"artifacts": ["the last good run"]}))
    with pytest.raises(ParameterError):
        ex.open_notebook("02_train_val_gap", preset="huge", output_root=tmp_path)
    ex.open_notebook("02_train_val_gap", output_root=tmp_path)   # parameters fine, but nothing written yet
    assert json.loads(manifest.read_text()) == {"artifacts": ["the last good run"]}


def test_notebook_reads_each_parameter_as_checked(tmp_path):
    nb = ex.open_notebook("08_gradient_error", preset="paper", seeds="[2, 3]", reuse_only="false",
                          output_root=tmp_path, search_overrides='{"epochs": 3}', points=None, sweep_epsilons=None,
                          method="darts_2nd", lam="0.5")
    assert (nb.preset, nb.seeds, nb.reuse_only, nb.search_overrides) == ("paper", [2, 3], False, {"epochs": 3})
    assert (nb.points, nb.lam, nb.dtype) == (11, 0.5, "float64")
    assert nb.sweep_epsilons == params.SWEEP_EPSILONS
    assert ex.open_notebook("02_train_val_gap", preset="paper", output_root=tmp_path).smooth_window == 5
    methods = ex.open_notebook("09_teaching_walkthrough", methods="gdas, darts_2nd", output_root=tmp_path).methods
    assert methods == ["gdas", "darts_2nd"]
    with pytest.raises(AttributeError, match="declares no parameter 'smooth_window'"):
        nb.smooth_window


def test_train_overrides_default_to_the_presets_notebook_setting():
    assert params.train_overrides_for("smoke", "cifar10", None) == PRESETS["smoke"].notebook_training("cifar10")
    assert params.train_overrides_for("smoke", "cifar10", '{"epochs": 1}') == {"epochs": 1}


@pytest.mark.parametrize("key, label, overrides", [
    ("milenas_lam0.1", "MiLeNAS λ = 0.1", {"method": "milenas", "lam": 0.1}),
    ("darts_2nd", "bilevel (2nd-order DARTS)", {"method": "darts_2nd"}),
    ("switch", "bilevel, then MiLeNAS λ = 1", {"method": "switch", "lam": 1.0}),
    ("gdas", "GDAS (bilevel, Gumbel)", {"method": "gdas"}),
])
def test_settings_take_labels_and_lambda_from_the_method_registry(key, label, overrides):
    assert (settings.SETTINGS[key].label, settings.SETTINGS[key].overrides) == (label, overrides)


def test_setting_for_finds_registered_settings_and_makes_new_lambdas():
    assert settings.setting_for("milenas", 999) is settings.SETTINGS["milenas_lam999"]
    assert settings.setting_for("darts_2nd", 0.5) is settings.SETTINGS["darts_2nd"]   # takes no λ
    new = settings.milenas_setting(3)
    assert (new.key, new.label, new.overrides["lam"]) == ("milenas_lam3", "MiLeNAS λ = 3", 3.0)
    with pytest.raises(ValueError, match="takes no λ"):
        settings.make_setting("x", "gdas", 1.0)
    with pytest.raises(KeyError, match="unknown setting"):
        settings.setting("nope")


# --- parameters that would relabel, resize or double-count runs -------------------------------------

@pytest.mark.parametrize("overrides, changed", [
    ({"method": "single_level"}, "method: 'milenas' -> 'single_level'"),
    ({"lam": 0.1}, "lam: 1.0 -> 0.1"),
    ({"order": "w_then_alpha"}, "order: 'simultaneous' -> 'w_then_alpha'"),
])
def test_search_overrides_may_not_change_what_a_setting_is(tmp_path, overrides, changed):
    """Fig. 2's five curves must stay five methods: an override of method, λ or order is refused."""
    with pytest.raises(ParameterError) as error:
        store.search_jobs(["milenas_lam1"], [0], "smoke", output_root=tmp_path, overrides=overrides)
    message = str(error.value)
    assert "'milenas_lam1'" in message and changed in message and "\n" not in message
    kept = store.search_jobs(["milenas_lam1"], [0], "smoke", output_root=tmp_path,
                          overrides={"method": "milenas", "lam": 1, "epochs": 3})  # the setting's own values
    assert kept[0][1].run.kwargs["config"].epochs == 3
    with pytest.raises(ParameterError, match="setting 'darts_2nd'"):
        ex.open_notebook("08_gradient_error", method="darts_2nd", search_overrides={"method": "milenas"},
                         output_root=tmp_path, plan_only=True)


def test_a_repeated_seed_is_refused_not_counted_twice():
    with pytest.raises(ParameterError, match=r"seeds lists seed\(s\) \[0\] more than once"):
        params.resolve_seeds("[0, 0]", "smoke")
    assert params.resolve_seeds([1, 0], "smoke") == [1, 0]
