"""The notebook context: one notebook's checked parameters, what it runs and what it writes.

::

    nb = ex.open_notebook("02_train_val_gap", globals())   # milenas_lib.experiments.head
    records = nb.runs()                                     # the searches its spec declares
    nb.save_figure(fig, "fig2_train_val_gap", "Fig. 2: ...", records)

Its parameters are read and checked (:mod:`.spec`) before the context is
made, before any file is touched.  The runs are the ones its spec declares
(:mod:`.needs`), and share the notebook's preset, seeds, device, data,
overrides and ``reuse_only``; a figure, table or report the spec does not list
is refused, and those it lists take their data source, n and provenance from
the records they were made from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ..paper.claims_report import claims_context, claims_report, sweep_speed
from ..paper.labels import figure_detail
from ..paper.settings import Setting
from .evaluation import evaluation_candidates, train_runs
from .gradient_error import gradient_error_trajectory
from .outputs import NotebookOutputs, SavedPaths
from .params import train_overrides_for
from .spec import NotebookParameters, NotebookSpec
from .store import search_runs

#: The parameters that say how missing runs are trained (milenas_lib/executor/).
_EXECUTOR_PARAMETERS = ("workers", "backend", "address")
#: The report :meth:`Notebook.save_claims` writes (``results/<preset>/claims.md`` and ``.json``).
CLAIMS_REPORT = "claims"


class Notebook:
    """A notebook's checked parameters (``nb.preset``, ``nb.lam``, ...), the runs its spec
    declares (``nb.runs()``) through the run store, and the outputs its spec lists."""

    def __init__(self, parameters: NotebookParameters, spec: NotebookSpec):
        self.parameters, self.spec = parameters, spec
        self.name = parameters.name
        # Where data come from and where results go change no result: kept out of the provenance's parameters.
        recorded = {k: v for k, v in parameters.values.items()
                    if k not in ("preset", "data_root", "output_root", "tensorboard")}
        self.outputs = NotebookOutputs(self.name, self.preset, self.output_root, device=self.device,
                                       parameters=recorded)

    def __getattr__(self, key: str) -> Any:
        if key == "parameters":  # not set yet (unpickling): no recursion
            raise AttributeError(key)
        return getattr(self.parameters, key)

    # -- runs ----------------------------------------------------------------

    def runs(self) -> Any:
        """The runs the spec declares, in the form the later cells use: the search or training records
        (trained when missing, unless ``reuse_only``), or notebook 8's measurements."""
        return self.spec.runs.fetch(self)

    # What the declarations of :mod:`.needs` fetch through (a notebook's cells call ``nb.runs()``).

    def search(self, settings: Sequence[str | Setting], seeds: Optional[Sequence[int]] = None) -> list[dict]:
        """One search per (setting, seed) from the run store (trained when missing, unless ``reuse_only``)."""
        records = search_runs(settings, self.seeds if seeds is None else list(seeds), self.preset,
                              output_root=self.output_root, overrides=self.search_overrides, device=self.device,
                              data_root=self.data_root, reuse_only=self.reuse_only, progress=True, **self._executor)
        if self.tensorboard:
            from ..loops.tensorboard import write_record_events

            for record in records:  # the records are the source of truth, stored or just trained
                write_record_events(record, Path(self.tensorboard) / record["setting"] / Path(record["run_dir"]).name)
        return records

    def train(self, genotypes: Mapping[str, str] | Sequence[str], dataset: str = "cifar10",
              data_root: Optional[str] = None) -> list[dict]:
        """Each genotype trained from scratch once per seed (``train_overrides``, else the
        preset's notebook default for ``dataset``); ``data_root`` defaults to the notebook's."""
        overrides = train_overrides_for(self.preset, dataset, self.parameters.values.get("train_overrides"))
        return train_runs(genotypes, self.seeds, self.preset, dataset, overrides=overrides,
                          output_root=self.output_root, device=self.device,
                          data_root=data_root or self.data_root, reuse_only=self.reuse_only, progress=True,
                          **self._executor)

    def evaluation_candidates(self, table: int) -> dict[str, str]:
        """The cells notebooks 6 and 7 train for Table ``table`` (1: CIFAR-10, 2: ImageNet): the best
        MiLeNAS λ = 1 search's cell (with ``include_searched``) and the registered ``genotypes``
        (None: the preset's list)."""
        searches = self.search(["milenas_lam1"]) if self.include_searched else []
        return evaluation_candidates(searches, self.genotypes, self.preset, table)

    @property
    def _executor(self) -> dict:
        """How missing runs are trained: ``workers``, ``backend``, ``address`` (defaults: local, all cores)."""
        return {key: self.parameters.values[key] for key in _EXECUTOR_PARAMETERS}

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
        """``figures/<preset>/<name>.png`` and ``.pdf``, when the spec lists the figure."""
        self.spec.check_output("figures", name)
        return self.outputs.save_figure(fig, name, caption, records, **describe)

    def save_claims(self, claims, order, records: Sequence[dict], speed: Optional[Mapping] = None,
                    times=None, controls=None) -> SavedPaths:
        """``results/<preset>/claims.md`` (the claims and parts tables, :mod:`.claims_report`) and ``claims.json``
        (every part's numbers: per-seed values, mean, std, raw and Holm-adjusted intervals, p-values, verdict
        and reason), the step benchmark and the sweep's time ratio beside it (``times``: per-run search
        times), the update-order check, the searches against their α-frozen ``controls``, and what was run
        (preset, data, device, n, wall time)."""
        self.spec.check_output("reports", CLAIMS_REPORT)
        context = claims_context(records, self.preset)
        sweep = sweep_speed(times, records) if times is not None else None
        markdown = claims_report(claims, order, context, self.preset, speed, sweep, controls)
        data = {"context": context, "claims": claims.to_dict("records"), "speed_benchmark": speed,
                "speed_sweep": sweep, "order": order.to_dict("records"),
                "controls": [] if controls is None else controls.to_dict("records")}
        return self.outputs.save_report(CLAIMS_REPORT, markdown, data, "The paper's claims: measured effects, "
                                        "95 % intervals and verdicts", records)

    def save_table(self, frame, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                   **options: Any) -> SavedPaths:
        """``<name>.csv`` and its provenance (``tables/<name>`` with ``paper_table=True``), when the spec
        lists the table."""
        self.spec.check_output("tables", f"tables/{name}" if options.get("paper_table") else name)
        return self.outputs.save_table(frame, name, caption, records, **options)
