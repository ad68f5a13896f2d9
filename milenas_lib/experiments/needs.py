"""The runs a notebook needs, as its spec declares them (:mod:`.spec`): each
a :class:`Need` with the run-store folder the notebook's own ``nb.search`` /
``nb.train`` / ``nb.gradient_error`` calls read, its executor run, and (filled
in by :mod:`.plan`) its status and cost.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..config import search_config
from ..data.cifar10 import resolve_cache_dir
from ..executor import Run, stored_record
from ..names import RECORD_NAME
from ..paper.settings import Setting, setting_for
from .evaluation import imagenet_root, searched_genotypes, train_jobs
from .params import genotype_choice, preset_named, runs_root, train_overrides_for
from .spec import NotebookParameters
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


def evaluation(dataset: str) -> Callable[[NotebookParameters, bool], list[Need]]:
    """The runs of notebook 6 (``cifar10``) or 7 (``imagenet``): the MiLeNAS λ=1 searches whose best
    cell is trained (``include_searched``), and the trainings of Table 1 or 2."""

    def needs(nb: NotebookParameters, resolve_data: bool) -> list[Need]:
        searched = searches(nb, ["milenas_lam1"]) if nb.include_searched else []
        if dataset == "cifar10":
            return searched + trainings(nb, "cifar10", 1, nb.data_root)
        root = nb.imagenet_root
        if root is None and preset_named(nb.preset).imagenet_stand_in:  # CIFAR-10 in ImageFolder layout
            stand_in = resolve_cache_dir() / "cifar10-imagefolder"  # where imagenet_root() extracts it
            root = imagenet_root(nb.preset, None)[0] if resolve_data else str(stand_in)
        return searched + (trainings(nb, "imagenet", 2, root) if root else [])
    return needs


def gradient_search(nb: NotebookParameters, resolve_data: bool = False) -> list[Need]:
    """Notebook 8: one search stopped and measured along the way (``nb.gradient_error``)."""
    extra = {"device": nb.device, "seed": nb.seeds[0], **({"data_root": nb.data_root} if nb.data_root else {})}
    check_setting_kept(setting_for(nb.method, nb.lam), nb.preset, nb.search_overrides)
    config = search_config(nb.preset, **{**nb.search_overrides, "method": nb.method, "lam": float(nb.lam), **extra})
    spec = setting_for(config.method, config.lam)
    shared = run_dir(spec, config, nb.preset, runs_root(nb.output_root))
    separate = (runs_root(nb.output_root) / nb.preset / "gradient_trajectory"
                / f"{spec.key}_seed{config.seed}-{config_hash(config)}")
    measured = next((f for f in (shared, separate) if (f / "gradient_error.json").exists()), None)
    folder = measured or (shared if not (shared / RECORD_NAME).exists() else separate)
    kwargs = dict(preset=nb.preset, method=nb.method, lam=nb.lam, seed=nb.seeds[0], points=nb.points, dtype=nb.dtype,
                  sweep_epsilons=nb.sweep_epsilons, overrides=nb.search_overrides, device=nb.device,
                  data_root=nb.data_root, output_root=nb.output_root, verbose=False)
    description = f"search {spec.key} seed {config.seed}, measured at {nb.points} states"
    run = Run(folder, "milenas_lib.experiments.gradient_error:gradient_error_trajectory", kwargs, description,
              config.epochs, config.device, config.num_threads or 1)
    return [Need("gradient", description, folder, run, config, status="stored" if measured else "missing")]
