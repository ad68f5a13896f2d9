"""The notebook context: one notebook's parameters, checked first, and what it runs and writes.

::

    nb = ex.Notebook("02_train_val_gap", preset=preset, seeds=seeds, device=device, data_root=data_root,
                     search_overrides=search_overrides, reuse_only=reuse_only, output_root=output_root,
                     smooth_window=smooth_window)
    records = nb.search(ex.FIG2_SETTINGS)
    nb.save_figure(fig, "fig2_train_val_gap", "Fig. 2: ...", records)

Every parameter is read and checked when the context is made, before any file
is touched; a bad one fails with one line (:class:`ParameterError`).  The
runs then share the notebook's preset, seeds, device, data, overrides and
``reuse_only``, and figures and tables take their data source, n and
provenance from the records they were made from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ..config import ConfigError, search_config
from .evaluation import train_runs
from .gradient_error import gradient_error_trajectory
from .outputs import NotebookOutputs, SavedPaths, figure_detail
from .params import (NOTEBOOK_PARAMETERS, ParameterError, resolve_device, resolve_flag, resolve_folder,
                     resolve_overrides, resolve_preset, resolve_seeds, train_overrides_for)
from .settings import Setting
from .store import search_runs


class PlanOnly(Exception):
    """``plan_only=True``: the notebook's runs and their cost were printed; nothing runs."""

    def __init__(self, notebook: "Notebook") -> None:
        from .plan import format_plan, make_plan  # plan.py builds Notebook objects itself

        parameters = {key: value for key, value in notebook.parameters.items() if key != "plan_only"}
        plan = make_plan(notebook.preset, [notebook.name], seeds=notebook.seeds, output_root=notebook.output_root,
                         parameters={"device": notebook.device, "data_root": notebook.data_root,
                                     "search_overrides": notebook.search_overrides, **parameters})
        super().__init__(f"plan_only=True: nothing was run\n{format_plan(plan, parameters.get('workers'))}")

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return str(self).splitlines()


class Notebook:
    """A notebook's checked parameters, its runs through the run store, and its outputs."""

    def __init__(self, name: str, *, preset: Any = "smoke", seeds: Any = None, device: Any = "auto",
                 data_root: Any = None, search_overrides: Any = None, reuse_only: Any = False,
                 output_root: Optional[str | Path] = None, **parameters: Any):
        self.name = name
        self.preset = resolve_preset(preset)
        self.seeds = resolve_seeds(seeds, self.preset)
        self.device = resolve_device(device)
        self.data_root = resolve_folder(data_root, "data_root")
        self.reuse_only = resolve_flag(reuse_only, "reuse_only")
        self.output_root = None if output_root in (None, "") else str(output_root)
        self.search_overrides = resolve_overrides(search_overrides, "search_overrides")
        try:
            search_config(self.preset, **self.search_overrides)
        except ConfigError as error:
            raise ParameterError(f"search_overrides: {error}") from None
        unknown = sorted(set(parameters) - set(NOTEBOOK_PARAMETERS))
        if unknown:
            raise ParameterError(f"unknown notebook parameter(s) {unknown}; known: {', '.join(NOTEBOOK_PARAMETERS)}")
        self.parameters = {key: NOTEBOOK_PARAMETERS[key](value, self.preset) for key, value in parameters.items()}
        if self.parameters.get("plan_only"):
            raise PlanOnly(self)
        self.outputs = NotebookOutputs(name, self.preset, self.output_root, device=self.device,
                                       parameters={"seeds": self.seeds, "device": self.device,
                                                   "search_overrides": self.search_overrides,
                                                   "reuse_only": self.reuse_only, **self.parameters})

    def __getattr__(self, key: str) -> Any:
        # The notebook-specific parameters (lam, points, ...), read as checked.
        parameters = self.__dict__.get("parameters", {})
        if key in parameters:
            return parameters[key]
        raise AttributeError(f"this notebook declares no parameter {key!r}")

    # -- runs ----------------------------------------------------------------

    def search(self, settings: Sequence[str | Setting], seeds: Optional[Sequence[int]] = None) -> list[dict]:
        """One search per (setting, seed) from the run store (trained when missing, unless ``reuse_only``)."""
        return search_runs(settings, self.seeds if seeds is None else list(seeds), self.preset,
                           output_root=self.output_root, overrides=self.search_overrides, device=self.device,
                           data_root=self.data_root, reuse_only=self.reuse_only, progress=True, **self._executor)

    def train(self, genotypes: Mapping[str, str] | Sequence[str], dataset: str = "cifar10",
              data_root: Optional[str] = None) -> list[dict]:
        """Each genotype trained from scratch once per seed (``train_overrides``, else the
        preset's notebook default for ``dataset``); ``data_root`` defaults to the notebook's."""
        overrides = train_overrides_for(self.preset, dataset, self.parameters.get("train_overrides"))
        return train_runs(genotypes, self.seeds, self.preset, dataset, overrides=overrides,
                          output_root=self.output_root, device=self.device,
                          data_root=data_root or self.data_root, reuse_only=self.reuse_only, progress=True,
                          **self._executor)

    @property
    def _executor(self) -> dict:
        """How missing runs are trained: ``workers``, ``backend``, ``address`` (defaults: local, all cores)."""
        return {key: self.parameters[key] for key in ("workers", "backend", "address") if key in self.parameters}

    def gradient_error(self, method: str, lam: float, **options: Any) -> dict:
        """Notebook 8's measurements along a search of ``method`` with the first seed
        (:func:`.gradient_error.gradient_error_trajectory`)."""
        return gradient_error_trajectory(self.preset, method=method, lam=lam, seed=self.seeds[0],
                                         overrides=self.search_overrides, device=self.device,
                                         data_root=self.data_root, output_root=self.output_root,
                                         reuse_only=self.reuse_only, **options)

    # -- outputs -------------------------------------------------------------

    def detail(self, records: Sequence[dict]) -> str:
        """The second title line of a figure made from ``records``: preset and sizes, data, n."""
        return figure_detail(records, self.preset)

    def save_figure(self, fig, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                    **describe: Any) -> SavedPaths:
        return self.outputs.save_figure(fig, name, caption, records, **describe)

    def save_table(self, frame, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                   **options: Any) -> SavedPaths:
        return self.outputs.save_table(frame, name, caption, records, **options)
