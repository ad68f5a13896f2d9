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

from ..paper.claims import CLAIMS, control_checks, evaluate_claims, final_values, order_sensitivity
from ..paper.claims_report import claims_report, claims_table, sweep_speed
from ..paper.frames import (best_per_bucket, best_run, bucket_frame, curves, final_epoch, final_genotype,
                            final_table, genotype_table, mean_std, records_frame, records_of, run_genotypes,
                            search_time_frame, smooth, switch_epoch, time_ratio, training_frame)
from ..paper.labels import figure_detail, source_label
from ..paper.figure_checks import fig2_claims, fig3_claims, fig5_claims
from ..paper.quoted import PAPER_BEST_RANGE_M, PAPER_FIG5, PAPER_FIG5_ERRORS, PAPER_MILENAS_ARCHS
from ..paper.settings import (CLAIM_SETTINGS, FIG2_SETTINGS, FIG3_SETTINGS, FIG5_SETTINGS, SETTINGS, Setting,
                              claim_settings, milenas_setting, record_setting, setting, setting_for)
from ..paper.tables import table1, table2, table_rows
from .evaluation import chance_error, evaluation_candidates, imagenet_root, searched_genotypes, train_runs
from .gradient_error import gradient_error_trajectory, measure_gradients, trajectory_summary
from .head import PlanOnly, open_notebook
from .notebook import Notebook
from .outputs import NotebookOutputs, records_provenance
from .params import ParameterError, resolve_overrides, resolve_root, resolve_seeds, resolve_settings, runs_root
from .spec import NotebookSpec, Parameter
from .speed_benchmark import load_speed_benchmark
from .store import config_hash, load_records, make_search_config, run_dir, run_missing, search_runs, store_folder
from .teaching import TeachingLab, operations_table, relaxation_demo, rules_table, supernet_summary

__all__ = ["CLAIMS", "CLAIM_SETTINGS", "claim_settings", "claims_report", "claims_table", "evaluate_claims",
           "final_values", "control_checks", "load_speed_benchmark", "sweep_speed", "order_sensitivity", "FIG2_SETTINGS", "FIG3_SETTINGS", "FIG5_SETTINGS", "Notebook", "NotebookOutputs",
           "NotebookSpec", "PAPER_BEST_RANGE_M", "PAPER_FIG5", "PAPER_FIG5_ERRORS", "PAPER_MILENAS_ARCHS",
           "Parameter", "ParameterError", "PlanOnly", "SETTINGS", "Setting",
           "TeachingLab", "best_per_bucket", "best_run", "bucket_frame", "chance_error", "config_hash", "curves",
           "evaluation_candidates", "fig2_claims", "fig3_claims", "fig5_claims", "figure_detail", "final_epoch",
           "final_genotype", "final_table", "genotype_table", "gradient_error_trajectory", "imagenet_root",
           "load_records", "make_search_config", "mean_std", "measure_gradients", "milenas_setting", "open_notebook",
           "operations_table", "records_frame", "records_of", "records_provenance", "relaxation_demo",
           "resolve_overrides", "resolve_root", "resolve_seeds", "resolve_settings", "rules_table", "run_dir",
           "record_setting", "run_genotypes", "run_missing", "runs_root", "search_runs", "setting_for", "store_folder", "search_time_frame", "searched_genotypes",
           "setting", "smooth", "source_label", "supernet_summary", "switch_epoch", "table1", "table2", "table_rows",
           "time_ratio", "train_runs", "training_frame", "trajectory_summary"]
