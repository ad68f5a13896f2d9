"""The runs a notebook needs, declared once in its spec (:mod:`.spec`) by one of
:class:`Searches`, :class:`Evaluation` or :class:`GradientSearch`.

Each declaration answers twice from the same parameters: ``needs`` lists the runs
for the plan, each a :class:`Need` with its run-store folder, its executor run and
(filled in by :mod:`.plan`) its status and cost; ``fetch`` gives the notebook
(``nb.runs()``) the records read back from those folders, or trained there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ..config import search_config
from ..data.cifar10 import resolve_cache_dir
from ..executor import Run, stored_record
from ..names import RECORD_NAME
from ..paper.settings import Setting, setting_for
from .evaluation import imagenet_root, searched_genotypes, train_jobs
from .params import genotype_choice, preset_named, runs_root, train_overrides_for
from .spec import NotebookParameters, Runs
from .store import check_setting_kept, config_hash, run_dir, search_jobs


@dataclass
class Need:
    """One run the notebooks need: what it is, its executor run (None while it
    waits for the searches that choose its cell), and what it costs."""

    kind: str                      # "search", "train" or "gradient" (a search measured along the way, notebook 8)
    description: str
    folder: Optional[Path]
    run: Optional[Run]
    config: Any
    notebooks: list[str] = field(default_factory=list)
    status: str = "missing"        # "stored", "missing", "partial E/N", "waits for its searches"
    searched_cell: bool = False    # a training of the cell its searches chose
    steps: int = 0
    seconds: float = 0.0
    measured_s: Optional[float] = None  # a stored run: the wall clock its record says it took (``time_s``)


def searches(nb: NotebookParameters, settings: Sequence[str | Setting],
             seeds: Optional[Sequence[int]] = None) -> list[Need]:
    """One search per setting and seed (the notebook's seeds unless ``seeds``), as ``nb.search`` runs them."""
    jobs = search_jobs(settings, nb.seeds if seeds is None else seeds, nb.preset, output_root=nb.output_root,
                       overrides=nb.search_overrides, device=nb.device, data_root=nb.data_root)
    return [Need("search", " ".join(job.description.split()), job.folder, job.run, job.run.kwargs["config"])
            for _, job in jobs]


def trainings(nb: NotebookParameters, dataset: str, table: int, data_root: Optional[str]) -> list[Need]:
    """The trainings of ``nb.train``: the registered cells of Table ``table`` (or ``genotypes``), and the
    searched cell, which waits (costed as DARTS_V2) until its searches are stored."""
    overrides = train_overrides_for(nb.preset, dataset, nb.values.get("train_overrides"))
    options = dict(overrides=overrides, output_root=nb.output_root, device=nb.device, data_root=data_root)
    candidates = {name: name for name in genotype_choice(nb.genotypes, nb.preset, table)}
    searched: dict[str, str] = {}
    waiting: list[Need] = []
    if nb.include_searched:
        jobs = search_jobs(["milenas_lam1"], nb.seeds, nb.preset, output_root=nb.output_root,
                           overrides=nb.search_overrides, device=nb.device, data_root=nb.data_root)
        records = [stored_record(job.folder) for _, job in jobs]
        if all(records):
            stored = [{**r, "setting": spec.key, "run_dir": str(job.folder)} for r, (spec, job) in zip(records, jobs)]
            searched = searched_genotypes(stored)
        else:  # the cell is chosen by its searches: cost it as DARTS_V2 for now
            for _, job in train_jobs(["DARTS_V2"], nb.seeds, nb.preset, dataset, **options):
                description = job.description.replace("DARTS_V2", "best MiLeNAS λ=1 cell")
                waiting.append(Need("train", description, None, None, job.run.kwargs["config"],
                                    status="waits for its searches", searched_cell=True))
    return waiting + [Need("train", job.description, job.folder, job.run, job.run.kwargs["config"],
                           searched_cell=name in searched)
                      for name, job in train_jobs({**searched, **candidates}, nb.seeds, nb.preset, dataset, **options)]


#: Settings given as they are, or as a function of the notebook's checked parameters.
SettingsChoice = Union[Sequence[Union[str, Setting]], Callable[[NotebookParameters], Sequence[Union[str, Setting]]]]


@dataclass(frozen=True)
class Searches(Runs):
    """One search per setting and seed: ``settings`` (a list, or a function of the parameters such as
    ``lambda nb: nb.methods``) with every seed of ``seeds``, or only the first with ``first_seed_only``.
    ``nb.runs()`` gives their records, setting by setting, seed by seed."""

    settings: SettingsChoice
    first_seed_only: bool = False

    def chosen(self, nb: NotebookParameters) -> tuple[list, list[int]]:
        """The settings and seeds these parameters choose."""
        settings = self.settings(nb) if callable(self.settings) else self.settings
        return list(settings), list(nb.seeds[:1] if self.first_seed_only else nb.seeds)

    def needs(self, nb: NotebookParameters, resolve_data: bool = False) -> list[Need]:
        return searches(nb, *self.chosen(nb))

    def fetch(self, notebook: Any) -> list[dict]:
        return notebook.search(*self.chosen(notebook.parameters))


@dataclass(frozen=True)
class Evaluation(Runs):
    """Notebook 6 (``cifar10``, Table 1) or 7 (``imagenet``, Table 2): the MiLeNAS λ = 1 searches whose best
    cell is trained (``include_searched``), and the trainings of the registered cells (``genotypes``, else
    the preset's list).  ``nb.runs()`` gives the training records (none without ImageNet on ``paper``)."""

    dataset: str

    @property
    def table(self) -> int:
        """The paper's table this data set fills: 1 (CIFAR-10) or 2 (ImageNet)."""
        return 1 if self.dataset == "cifar10" else 2

    def needs(self, nb: NotebookParameters, resolve_data: bool = False) -> list[Need]:
        searched = searches(nb, ["milenas_lam1"]) if nb.include_searched else []
        if self.dataset == "cifar10":
            return searched + trainings(nb, "cifar10", self.table, nb.data_root)
        root = nb.imagenet_root
        if root is None and preset_named(nb.preset).imagenet_stand_in:  # CIFAR-10 in ImageFolder layout
            stand_in = resolve_cache_dir() / "cifar10-imagefolder"  # where imagenet_root() extracts it
            root = imagenet_root(nb.preset, None)[0] if resolve_data else str(stand_in)
        return searched + (trainings(nb, "imagenet", self.table, root) if root else [])

    def fetch(self, notebook: Any) -> list[dict]:
        if self.dataset == "cifar10":
            return notebook.train(notebook.evaluation_candidates(self.table), "cifar10")
        root, _ = imagenet_root(notebook.preset, notebook.imagenet_root)
        candidates = notebook.evaluation_candidates(self.table)  # searched even without ImageNet, as planned
        return notebook.train(candidates, "imagenet", data_root=root) if root else []


@dataclass(frozen=True)
class GradientSearch(Runs):
    """Notebook 8: one search of its ``method`` and ``lam`` with the first seed, stopped and measured at
    ``points`` states; ``nb.runs()`` gives the measurements (:func:`.gradient_error.gradient_error_trajectory`)."""

    def needs(self, nb: NotebookParameters, resolve_data: bool = False) -> list[Need]:
        extra = {"device": nb.device, "seed": nb.seeds[0], **({"data_root": nb.data_root} if nb.data_root else {})}
        check_setting_kept(setting_for(nb.method, nb.lam), nb.preset, nb.search_overrides)
        config = search_config(nb.preset, **{**nb.search_overrides, "method": nb.method, "lam": float(nb.lam),
                                             **extra})
        spec = setting_for(config.method, config.lam)
        shared = run_dir(spec, config, nb.preset, runs_root(nb.output_root))
        separate = (runs_root(nb.output_root) / nb.preset / "gradient_trajectory"
                    / f"{spec.key}_seed{config.seed}-{config_hash(config)}")
        measured = next((f for f in (shared, separate) if (f / "gradient_error.json").exists()), None)
        folder = measured or (shared if not (shared / RECORD_NAME).exists() else separate)
        kwargs = dict(preset=nb.preset, method=nb.method, lam=nb.lam, seed=nb.seeds[0], points=nb.points,
                      dtype=nb.dtype, sweep_epsilons=nb.sweep_epsilons, overrides=nb.search_overrides,
                      device=nb.device, data_root=nb.data_root, output_root=nb.output_root, verbose=False)
        description = f"search {spec.key} seed {config.seed}, measured at {nb.points} states"
        run = Run(folder, "milenas_lib.experiments.gradient_error:gradient_error_trajectory", kwargs, description,
                  config.epochs, config.device, config.num_threads or 1)
        return [Need("gradient", description, folder, run, config, status="stored" if measured else "missing")]

    def fetch(self, notebook: Any) -> dict:
        return notebook.gradient_error(notebook.method, notebook.lam, points=notebook.points, dtype=notebook.dtype,
                                       sweep_epsilons=notebook.sweep_epsilons)
