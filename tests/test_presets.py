"""One Preset per name holds everything the name means; config, CLI and notebooks read it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from milenas_lib.cli import main
from milenas_lib.config import ConfigError, TRAIN_DATASETS, search_config, train_config
from milenas_lib.experiments import params
from milenas_lib.presets import PRESETS, Preset
from milenas_lib.records.identity import identity_hash, run_identity
from milenas_lib.registry import method_names
from milenas_lib.space.genotype import resolve_genotype

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_is_frozen_and_builds_every_config_it_promises(name):
    preset = PRESETS[name]
    assert isinstance(preset, Preset) and preset.name == name and preset.seeds
    with pytest.raises(AttributeError):
        preset.seeds = (9,)  # type: ignore[misc]
    with pytest.raises(TypeError):
        preset.search["epochs"] = 1  # type: ignore[index]
    for method in method_names():
        config = search_config(name, method=method)
        assert all(getattr(config, key) == value for key, value in preset.search_settings(method).items())
    if preset.trainings is None:
        with pytest.raises(ConfigError, match=f"preset '{name}' is a search preset and defines no trainings"):
            train_config(name)
        assert not preset.table1_genotypes and not preset.table2_genotypes
        return
    for dataset in TRAIN_DATASETS:
        train_config(name, dataset=dataset)
        train_config(name, dataset=dataset, **preset.notebook_training(dataset))
    for genotype in preset.table1_genotypes + preset.table2_genotypes:
        resolve_genotype(genotype)


def test_the_notebook_defaults_come_from_the_preset():
    for name, preset in PRESETS.items():
        assert params.resolve_seeds(None, name) == list(preset.seeds)
        assert params.smoothing_window(name) == preset.smoothing_window
        assert params.trajectory_points(name) == preset.trajectory_points
        assert params.smoothing_window(name, 4) == 4 and params.trajectory_points(name, 7) == 7
    assert params.genotype_choice(None, "paper", 2) == list(PRESETS["paper"].table2_genotypes)
    assert params.genotype_choice("DARTS_V2", "paper", 1) == ["DARTS_V2"]
    # medium's 8 epochs measured every 2 epochs, not with smoke's 3 points meant for 2 epochs
    assert PRESETS["medium"].trajectory_points == 5 and PRESETS["smoke"].trajectory_points == 3


def test_a_search_preset_refuses_a_training_in_one_line(capsys):
    assert main(["train", "--preset", "long", "--genotype", "DARTS_V2", "--dataset", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "defines no trainings" in err and "paper, smoke" in err


def test_the_committed_long_records_keep_their_run_identity():
    """Moving the presets into one object changed no config: the committed runs keep their folders."""
    for method in ("single_level", "milenas"):
        config = search_config("long", method=method, seed=0, **({"lam": 1.0} if method == "milenas" else {}))
        key = "milenas_lam1" if method == "milenas" else method
        folders = sorted((REPO / "results" / "runs" / "long" / key).glob("seed0-*"))
        assert folders and folders[0].name == f"seed0-{identity_hash(run_identity(config, None))}"


def test_no_module_but_presets_tests_a_preset_by_name():
    compare = re.compile(r"""preset\w*\s*[!=]=\s*["'](paper|smoke|medium|long)["']""")
    offenders = [f"{path.relative_to(REPO)}:{number}" for path in (REPO / "milenas_lib").rglob("*.py")
                 if path.name != "presets.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if compare.search(line)]
    assert not offenders, offenders
