"""The kit's notebooks, one :class:`.spec.NotebookSpec` each (the design: :mod:`.spec`).

A new notebook ``notebooks/NN_name.py`` (and its ``.ipynb``) needs one more
entry in :data:`SPECS`: its own parameters, the runs it needs (a declaration of
:mod:`.needs`, which the notebook gets from ``nb.runs()``), and the figures and
tables it writes (its ``nb.save_*`` calls may write no others).  A folder of one's own
notebooks elsewhere may instead hold a ``notebook_specs.py`` defining
``SPECS`` (a sequence of specs); :func:`specs_for` reads it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from ..paper import settings
from ..registry import method_names
from .needs import Evaluation, GradientSearch, Searches
from .params import (DTYPE_NAMES, SWEEP_EPSILONS, ParameterError, preset_named, resolve_choice, resolve_flag,
                     resolve_floats, resolve_folder, resolve_names, resolve_number, resolve_settings, resolve_train_overrides,
                     smoothing_window, trajectory_points)
from .spec import NotebookParameters, NotebookSpec, Parameter

#: The file in a notebooks folder that declares that folder's own notebooks.
FOLDER_SPECS = "notebook_specs.py"

LAM = Parameter("lam", 1.0, lambda v, preset: resolve_number(v, "lam", float, minimum=0), "λ of Eq. 5")
TRAIN_OVERRIDES = Parameter("train_overrides", None, resolve_train_overrides,
                            "TrainConfig fields; None: the notebook default of the preset")
GENOTYPES = Parameter("genotypes", None, lambda v, preset: resolve_names(v, "genotypes"),
                      "registered cells to train; None: the preset's list")
INCLUDE_SEARCHED = Parameter("include_searched", True, lambda v, preset: resolve_flag(v, "include_searched"),
                             "also train the best MiLeNAS (λ = 1) cell searched in the run store")


def _imagenet_note(nb: NotebookParameters) -> Optional[str]:
    if nb.imagenet_root is None and not preset_named(nb.preset).imagenet_stand_in:
        return ("07: no imagenet_root given, so no ImageNet training (Table 2 then holds the quoted rows and "
                "sizes); pass --param imagenet_root=/data/imagenet to plan it")
    return None


SPECS: dict[str, NotebookSpec] = {spec.name: spec for spec in (
    NotebookSpec(
        "01_search_walkthrough", (LAM,),
        runs=Searches(lambda nb: [settings.milenas_setting(nb.lam)], first_seed_only=True),
        figures=("walkthrough_alpha_heatmaps", "walkthrough_op_weights", "fig4_cells_searched",
                 "fig4_cells_paper_2_34", "fig4_cells_paper_2_50"),
        tables=("walkthrough_epochs", "fig4_genotypes")),
    NotebookSpec(
        "02_train_val_gap",
        (Parameter("smooth_window", None,
                   lambda v, preset: smoothing_window(preset, resolve_number(v, "smooth_window", int, 1, True)),
                   "moving average (epochs) of panel (a); None: the preset's (5 for paper, 1 otherwise)"),),
        runs=Searches(settings.FIG2_SETTINGS),
        figures=("fig2_train_val_gap",),
        tables=("fig2_train_val_gap", "fig2_final_epoch", "fig2_epochs", "fig2_claims")),
    NotebookSpec(
        "03_search_val_accuracy",
        runs=Searches(settings.FIG3_SETTINGS),
        figures=("fig3a_search_val_accuracy", "fig3b_search_time"),
        tables=("fig3a_search_val_accuracy", "fig3a_final_epoch", "fig3b_search_time", "fig3_claims")),
    NotebookSpec(
        "04_gdas_vs_milenas",
        runs=Searches(settings.FIG5_SETTINGS),
        figures=("fig5_gdas_vs_milenas_gumbel",),
        tables=("fig5_search_val_accuracy", "fig5_final_epoch", "fig5_claims")),
    NotebookSpec(
        "05_model_size",
        runs=Searches(settings.FIG3_SETTINGS),
        figures=("fig6_model_size",),
        tables=("fig6_best_per_param_range", "fig6_best_per_conv_bucket")),
    NotebookSpec(
        "06_cifar10_evaluation", (TRAIN_OVERRIDES, GENOTYPES, INCLUDE_SEARCHED),
        runs=Evaluation("cifar10"),
        figures=("table1_cifar10",),
        tables=("tables/table1_cifar10", "table1_training_curves")),
    NotebookSpec(
        "07_imagenet_transfer",
        (Parameter("imagenet_root", None, lambda v, preset: resolve_folder(v, "imagenet_root"),
                   "ImageFolder tree of ImageNet; None: the paper preset trains nothing, smoke a CIFAR-10 stand-in"),
         TRAIN_OVERRIDES, GENOTYPES, INCLUDE_SEARCHED),
        runs=Evaluation("imagenet"), note=_imagenet_note,
        figures=("table2_imagenet",),
        tables=("tables/table2_imagenet",)),
    NotebookSpec(
        # Runs first: it stops and resumes its search to measure gradients along it, and when it runs
        # first that search becomes the run store's own (bit-identical), which 02 and 03 then read back.
        "08_gradient_error",
        (Parameter("method", "darts_2nd", lambda v, preset: resolve_choice(v, "method", method_names()),
                   "the search whose states are measured"),
         LAM,
         Parameter("points", None,
                   lambda v, preset: trajectory_points(preset, resolve_number(v, "points", int, 2, True)),
                   "measured states, start and end included; None: the preset's (smoke 3, medium and long 5, paper 11)"),
         Parameter("dtype", "float64", lambda v, preset: resolve_choice(v, "dtype", DTYPE_NAMES),
                   "precision of the measurements along the trajectory"),
         Parameter("sweep_epsilons", None, lambda v, preset: resolve_floats(v, "sweep_epsilons") or SWEEP_EPSILONS,
                   "ε values of panel (c); None: 1e-1, ..., 1e-10")),
        runs=GradientSearch(), run_first=True,
        figures=("gradient_error",),
        tables=("gradient_error_trajectory", "gradient_error_epsilon_sweep")),
    NotebookSpec(
        "09_teaching_walkthrough",
        (Parameter("methods", ["single_level", "milenas_lam1", "darts_2nd"],
                   lambda v, preset: resolve_settings(v, "methods"), "the formulations searched in section 4"),),
        runs=Searches(lambda nb: nb.methods),
        figures=("teaching_darts_v2_cells", "teaching_relaxation", "teaching_learning_curves",
                 "teaching_milenas_cells"),
        tables=("teaching_final_epoch",)),
    NotebookSpec(
        "10_claims",
        (Parameter("order_check", None,
                   lambda v, preset: preset_named(preset).claims_order_check if v is None
                   else resolve_flag(v, "order_check"),
                   "also run MiLeNAS λ = 1 in Algorithm 1's order and re-judge the claims with it; "
                   "None: on every preset but long (its sweep spends that time on the controls)"),
         Parameter("controls", None,
                   lambda v, preset: preset_named(preset).claims_controls if v is None
                   else resolve_flag(v, "controls"),
                   "also run the controls with α frozen; None: on the long preset")),
        runs=Searches(lambda nb: settings.claim_settings(nb.order_check, nb.controls)),
        figures=("claims_forest",),
        tables=("claims", "claims_order"),
        reports=("claims",)),
)}


def specs_for(notebooks_dir: Optional[Path] = None) -> dict[str, NotebookSpec]:
    """The kit's specs, and those a ``notebook_specs.py`` in ``notebooks_dir`` declares (they win on a name)."""
    path = Path(notebooks_dir or ".") / FOLDER_SPECS
    if not path.is_file():
        return dict(SPECS)
    loader = importlib.util.spec_from_file_location(f"notebook_specs_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    declared = getattr(module, "SPECS", ())
    return {**SPECS, **{spec.name: spec for spec in (declared.values() if isinstance(declared, dict) else declared)}}


def notebook_spec(name: str, notebooks_dir: Optional[Path] = None) -> NotebookSpec:
    """The spec of notebook ``name``; a notebook without one is refused, saying where specs go."""
    specs = specs_for(notebooks_dir)
    if name not in specs:
        raise ParameterError(f"no spec for notebook {name!r}: add one to SPECS in "
                             f"milenas_lib/experiments/notebook_specs.py (or {FOLDER_SPECS} beside the notebook)")
    return specs[name]
