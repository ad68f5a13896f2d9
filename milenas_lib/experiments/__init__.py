"""The notebook runtime: what the notebooks run, each a function that returns its result.

Notebooks stay thin (a ``parameters`` cell, a :class:`Notebook` context, then
calls into this package and :mod:`milenas_lib.plots`); everything that loops,
trains, measures or writes files lives here, where it is tested.  The paper's
content (its settings, quoted numbers, frames, tables and claims) lives in
:mod:`milenas_lib.paper`, below both this package and the plots; the names a
notebook reads from it are re-exported here.  One module per job:

* :mod:`.spec` and :mod:`.notebook_specs`: what each notebook is, declared once (its
  parameters, the runs it needs, the files it writes), read by the notebook, the plan and
  ``make reproduce``; :mod:`.needs`: the runs a spec declares;
* :mod:`.params`: notebook parameters as papermill passes them, checked first;
* :mod:`.store`: the run store and the dispatch of missing runs;
* :mod:`.outputs`: what a notebook writes (figures, tables, provenance, manifest);
* :mod:`.speed_benchmark`: the step benchmark's file, read for claim 4;
* :mod:`.gradient_error`, :mod:`.evaluation`, :mod:`.teaching`: notebooks 8, 6-7 and 9;
* :mod:`.notebook`: the :class:`Notebook` context that ties them together, opened by
  :func:`.head.open_notebook` (the notebook's first call; ``plan_only`` prints :mod:`.plan`).
"""
from __future__ import annotations

import importlib
from typing import Any

#: The names a notebook reads as ``ex.<name>``, by the module that defines them.  Each module is
#: imported on the first use of one of its names (PEP 562), so ``import milenas_lib.experiments``
#: loads nothing, and a name of the paper's content never loads the runs, the executor or the data.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "..paper.claims": ("CLAIMS", "control_checks", "evaluate_claims", "final_values", "order_sensitivity"),
    "..paper.claims_report": ("claims_report", "claims_table", "sweep_speed"),
    "..paper.figure_checks": ("fig2_claims", "fig3_claims", "fig5_claims"),
    "..paper.frames": ("best_per_bucket", "best_run", "bucket_frame", "curves", "final_epoch", "final_genotype",
                       "final_table", "genotype_table", "mean_std", "records_frame", "records_of", "run_genotypes",
                       "search_time_frame", "smooth", "switch_epoch", "time_ratio", "training_frame"),
    "..paper.labels": ("figure_detail", "source_label"),
    "..paper.quoted": ("PAPER_BEST_RANGE_M", "PAPER_FIG5", "PAPER_FIG5_ERRORS", "PAPER_MILENAS_ARCHS"),
    "..paper.settings": ("CLAIM_SETTINGS", "FIG2_SETTINGS", "FIG3_SETTINGS", "FIG5_SETTINGS", "SETTINGS", "Setting",
                         "claim_settings", "milenas_setting", "record_setting", "setting", "setting_for"),
    "..paper.tables": ("table1", "table2", "table_rows"),
    ".evaluation": ("chance_error", "evaluation_candidates", "imagenet_root", "searched_genotypes", "train_runs"),
    ".gradient_error": ("gradient_error_trajectory", "measure_gradients", "trajectory_summary"),
    ".head": ("PlanOnly", "open_notebook"),
    ".notebook": ("Notebook",),
    ".outputs": ("NotebookOutputs", "records_provenance"),
    ".params": ("ParameterError", "resolve_overrides", "resolve_root", "resolve_seeds", "resolve_settings",
                "runs_root"),
    ".spec": ("NotebookSpec", "Parameter"),
    ".speed_benchmark": ("load_speed_benchmark",),
    ".store": ("config_hash", "load_records", "make_search_config", "run_dir", "run_missing", "search_runs",
               "store_folder"),
    ".teaching": ("TeachingLab", "operations_table", "relaxation_demo", "rules_table", "supernet_summary"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """``ex.<name>``: imports the module that defines ``name`` (once: the value is then kept here)."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
