"""The experiments the notebooks run: each a function that returns its result.

Notebooks stay thin (a ``parameters`` cell, a :class:`Notebook` context, then
calls into this package and :mod:`milenas_lib.plots`); everything that loops,
trains, measures or writes files lives here, where it is tested.  One module
per job:

* :mod:`.spec` and :mod:`.notebook_specs`: what each notebook is, declared once (its
  parameters, the runs it needs, the files it writes), read by the notebook, the plan and
  ``make reproduce``; :mod:`.needs`: the runs a spec declares;
* :mod:`.params`: notebook parameters as papermill passes them, checked first;
* :mod:`.settings`: the paper's search settings (method, λ, label, colour);
* :mod:`.store`: the run store and the dispatch of missing runs;
* :mod:`.frames`: run records as tidy frames, mean ± std, smoothing, last epoch;
* :mod:`.paper`: every number quoted from the paper, and its claims checked;
* :mod:`.tables`: Tables 1 and 2, ours beside the quoted rows;
* :mod:`.outputs`: what a notebook writes (figures, tables, provenance, manifest);
* :mod:`.gradient_error`, :mod:`.evaluation`, :mod:`.teaching`: notebooks 8, 6-7 and 9;
* :mod:`.notebook`: the :class:`Notebook` context that ties them together, opened by
  :func:`.head.open_notebook` (the notebook's first call; ``plan_only`` prints :mod:`.plan`).

The names below load on first use (PEP 562), so that ``plots`` can read
:mod:`.settings` and :mod:`.paper` without importing the loops.
"""
from __future__ import annotations

from ..lazy import lazy_exports

#: public name -> the module of this package that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("chance_error", "evaluation_candidates", "imagenet_root", "searched_genotypes", "train_runs"),
                    "evaluation"),
    **dict.fromkeys(("best_per_bucket", "best_run", "bucket_frame", "curves", "final_epoch", "final_genotype",
                     "final_table", "genotype_table", "mean_std", "records_frame", "records_of", "run_genotypes",
                     "search_time_frame", "smooth", "switch_epoch", "time_ratio", "training_frame"), "frames"),
    **dict.fromkeys(("gradient_error_trajectory", "measure_gradients", "trajectory_summary"), "gradient_error"),
    **dict.fromkeys(("Notebook",), "notebook"),
    **dict.fromkeys(("PlanOnly", "open_notebook"), "head"),
    **dict.fromkeys(("NotebookSpec", "Parameter"), "spec"),
    **dict.fromkeys(("NotebookOutputs", "figure_detail", "records_provenance", "source_label"), "outputs"),
    **dict.fromkeys(("PAPER_BEST_RANGE_M", "PAPER_FIG5", "PAPER_FIG5_ERRORS", "PAPER_MILENAS_ARCHS", "fig2_claims",
                     "fig3_claims", "fig5_claims"), "paper"),
    **dict.fromkeys(("DEFAULT_SEEDS", "TABLE1_GENOTYPES", "TABLE2_GENOTYPES", "ParameterError", "resolve_overrides",
                     "resolve_root", "resolve_seeds", "resolve_settings", "runs_root"), "params"),
    **dict.fromkeys(("FIG2_SETTINGS", "FIG3_SETTINGS", "FIG5_SETTINGS", "SETTINGS", "Setting", "milenas_setting",
                     "setting"), "settings"),
    **dict.fromkeys(("config_hash", "make_search_config", "run_dir", "run_missing", "search_runs"), "store"),
    **dict.fromkeys(("table1", "table2", "table_rows"), "tables"),
    **dict.fromkeys(("TeachingLab", "operations_table", "relaxation_demo", "rules_table", "supernet_summary"),
                    "teaching"),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
