"""Training genotypes from scratch for Tables 1 and 2 (notebooks 6 and 7), through the run store.

The paper evaluates the best searched cell (§3.1: highest last-epoch
search-val accuracy) and its registered cells by training each network from
scratch; a genotype is given by registered name, genotype JSON or the path of
a search's ``record.json`` (which keeps the link to the search and its cost).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ..config import train_config
from ..data import DataNotFoundError, cifar10_imagefolder
from ..executor import Run
from ..names import RECORD_NAME
from ..paper.frames import best_run
from ..records.identity import identity_hash, run_identity
from ..space.genotype import resolve_genotype
from .params import genotype_choice, preset_named, resolve_overrides, resolve_seeds, runs_root
from .store import RunJob, run_missing


def searched_genotypes(records: Sequence[dict], label: str = "searched") -> dict[str, str]:
    """The best search of ``records`` as ``{name: path of its record.json}``."""
    if not records:
        return {}
    best = best_run(records)
    name = f"{label} {best.get('setting', best['method'])} (search seed {best['seed']})"
    return {name: str(Path(best["run_dir"]) / RECORD_NAME)}


def evaluation_candidates(searches: Sequence[dict], genotypes: Any, preset: str, table: int) -> dict[str, str]:
    """``{name: genotype source}`` to train: the best of ``searches`` (its record.json) and the
    registered cells ``genotypes`` (None: the preset's list for Table ``table``, 1 or 2)."""
    return {**searched_genotypes(searches), **{name: name for name in genotype_choice(genotypes, preset, table)}}


def chance_error(records: Sequence[dict]) -> Optional[float]:
    """Top-1 error (%) of guessing, from the number of classes the runs trained on."""
    if not records:
        return None
    source = records[0].get("data_source") or {}
    classes = source.get("classes", (source.get("detail") or {}).get("classes"))
    if classes is None and source.get("source") in ("cifar10-jpeg-archive", "torchvision-cifar10", "synthetic"):
        classes = 10
    count = len(classes) if isinstance(classes, (list, tuple)) else classes
    if not isinstance(count, int) or count < 2:
        return None
    return 100.0 * (1 - 1 / count)


def safe_name(name: str) -> str:
    """A folder name: letters, digits, '-', '.', and single '_' for anything else."""
    return re.sub(r"[^0-9A-Za-z.\-]+", "_", name).strip("_") or "genotype"


def train_jobs(genotypes: Mapping[str, str] | Sequence[str], seeds: Any, preset: str, dataset: str = "cifar10", *,
               overrides: Any = None, output_root: Optional[str | Path] = None, device: str = "auto",
               data_root: Optional[str] = None) -> list[tuple[str, RunJob]]:
    """The training runs of (genotype, seed) pairs, each with its run-store folder (nothing is run)."""
    if not isinstance(genotypes, Mapping):
        genotypes = {name: name for name in genotypes}
    seeds = resolve_seeds(seeds, preset)
    overrides = resolve_overrides(overrides, "train_overrides")
    # An override of the data set (e.g. the tests' "synthetic") replaces the notebook's.
    dataset = overrides.pop("dataset", dataset)
    store = runs_root(output_root) / preset / f"train_{dataset}"
    extra: dict[str, Any] = {"device": device, **({"data_root": str(data_root)} if data_root else {})}
    jobs = []
    for name, source in genotypes.items():
        for seed in seeds:
            config = train_config(preset, dataset=dataset, **{**overrides, **extra,
                                                              "genotype": str(source), "seed": int(seed)})
            identity = run_identity(config, None, resolve_genotype(config.genotype).to_dict())
            folder = store / safe_name(name) / f"seed{seed}-{identity_hash(identity)}"
            description = f"train {name} seed {seed} on {dataset}"
            jobs.append((name, RunJob(folder, description, Run.training(config, folder, description))))
    return jobs


def train_runs(genotypes: Mapping[str, str] | Sequence[str], seeds: Any, preset: str, dataset: str = "cifar10", *,
               overrides: Any = None, output_root: Optional[str | Path] = None, device: str = "auto",
               data_root: Optional[str] = None, reuse_only: bool = False, verbose: bool = True, progress: bool = True,
               workers: Optional[int] = None, backend: str = "local", address: Optional[str] = None) -> list[dict]:
    """Train each genotype (a name → registered name, genotype JSON or search
    record path) once per seed, in the run store
    ``results/runs/<preset>/train_<dataset>/<name>/seed<S>-<hash>/``; finished
    runs are read back, the missing ones trained all at once
    (:func:`.store.run_missing`).  Returns the training records with ``name`` added."""
    jobs = train_jobs(genotypes, seeds, preset, dataset, overrides=overrides, output_root=output_root,
                      device=device, data_root=data_root)
    records = run_missing([job for _, job in jobs], "training", reuse_only, verbose, progress=progress,
                          workers=workers, backend=backend, address=address)
    return [{**record, "name": name, "preset": preset, "run_dir": str(job.folder)}
            for record, (name, job) in zip(records, jobs)]


def imagenet_root(preset: str, root: Optional[str] = None) -> tuple[Optional[str], str]:
    """Where notebook 7 reads ImageNet, and a note saying what it is: ``root``
    when given; for the smoke preset without one, the CIFAR-10 ImageFolder
    stand-in; for the paper preset without one, nothing (the table then holds
    quoted rows and sizes only)."""
    if root:
        return str(root), f"ImageFolder tree {root}"
    if preset_named(preset).imagenet_stand_in:
        try:
            return str(cifar10_imagefolder()), "CIFAR-10 JPEGs in ImageFolder layout (a stand-in: NOT ImageNet)"
        except DataNotFoundError as error:
            return None, f"no ImageNet given and no CIFAR-10 archive for the stand-in ({error})"
    return None, "no ImageNet given (imagenet_root=None): Table 2 holds the quoted rows and network sizes only"
