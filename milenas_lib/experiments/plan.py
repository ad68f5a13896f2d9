"""``python -m milenas_lib plan``: every run the notebooks need, which are in the store, and what the rest cost.

A notebook's runs are read from the notebook itself: its ``parameters`` cell
gives the defaults, :class:`milenas_lib.experiments.Notebook` checks and
resolves them exactly as the notebook does, and :data:`NEEDS` lists, per
notebook, the same searches and trainings its cells ask ``nb.search`` /
``nb.train`` / ``nb.gradient_error`` for, with the same run-store folders.
``make reproduce`` trains the missing ones all at once through
:mod:`milenas_lib.executor` (:func:`run_notebooks_missing`) before the
notebooks execute, so that these only read and draw.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .. import costs
from ..config import search_config
from ..data.cifar10 import resolve_cache_dir
from ..executor import Run, execute, stored_record
from ..records.provenance import REPO_ROOT
from ..records.trust import PARTIAL, REBUILDABLE, STORED, examine, resolved
from . import settings
from .evaluation import imagenet_root, searched_genotypes, train_jobs
from .notebook import Notebook
from .params import (NOTEBOOK_PARAMETERS, TABLE1_GENOTYPES, TABLE2_GENOTYPES, genotype_choice, runs_root,
                     train_overrides_for)
from .settings import milenas_setting, setting_for
from .store import config_hash, run_dir, search_jobs

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_BASE_PARAMETERS = ("preset", "seeds", "device", "data_root", "search_overrides", "reuse_only", "output_root")


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
    status: str = "missing"        # "stored", "missing", "partial E/N", "failed", "damaged", "rebuildable",
    #                                "waits for its searches" (records/trust.py)
    searched_cell: bool = False    # a training of the cell its searches chose
    steps: int = 0
    seconds: float = 0.0


def notebook_names(notebooks_dir: Path = NOTEBOOKS_DIR, only: Optional[Sequence[str]] = None) -> list[str]:
    # A notebook is its .ipynb or its py:percent twin (either may be alone, e.g. a user's own notebook).
    names = sorted({p.stem for p in Path(notebooks_dir).glob("[0-9][0-9]_*") if p.suffix in (".py", ".ipynb")})
    if only:
        unknown = [prefix for prefix in only if not any(n.startswith(prefix) for n in names)]
        if unknown:
            raise ValueError(f"no notebook matches {unknown}; notebooks are: {', '.join(names)}")
        names = [n for n in names if any(n.startswith(prefix) for prefix in only)]
    return names


def notebook_defaults(name: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict:
    """The values of a notebook's ``parameters`` cell (its ``.py`` pair), read without running it."""
    lines = (Path(notebooks_dir) / f"{name}.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# %%") and "parameters" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")), len(lines))
    values = {}
    for node in ast.parse("\n".join(lines[start + 1:end])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def notebook_context(name: str, preset: str, seeds: Any = None, parameters: Optional[dict] = None,
                     output_root: Optional[str] = None, notebooks_dir: Path = NOTEBOOKS_DIR):
    """The notebook's :class:`Notebook` with its defaults, then ``parameters``, as papermill would inject them."""
    defaults = notebook_defaults(name, notebooks_dir)
    # Like papermill: only the parameters the notebook declares reach it.
    values = {**defaults, **{k: v for k, v in (parameters or {}).items() if k in defaults}, "preset": preset,
              "plan_only": False}
    if seeds is not None:
        values["seeds"] = seeds
    if output_root is not None:
        values["output_root"] = str(output_root)
    accepted = set(_BASE_PARAMETERS) | set(NOTEBOOK_PARAMETERS)
    return Notebook(name, **{k: v for k, v in values.items() if k in accepted})


# -- what each notebook asks the run store for --------------------------------

def _searches(nb, settings, seeds=None) -> list[Need]:
    jobs = search_jobs(settings, nb.seeds if seeds is None else seeds, nb.preset, output_root=nb.output_root,
                       overrides=nb.search_overrides, device=nb.device, data_root=nb.data_root)
    return [Need("search", " ".join(job.description.split()), job.folder, job.run, job.run.kwargs["config"])
            for _, job in jobs]


def _trainings(nb, dataset: str, table: dict, data_root: Optional[str]) -> list[Need]:
    overrides = train_overrides_for(nb.preset, dataset, nb.parameters.get("train_overrides"))
    options = dict(overrides=overrides, output_root=nb.output_root, device=nb.device, data_root=data_root)
    candidates = {name: name for name in genotype_choice(nb.genotypes, nb.preset, table)}
    searched: dict[str, str] = {}
    waiting: list[Need] = []
    if nb.include_searched:
        searches = search_jobs(["milenas_lam1"], nb.seeds, nb.preset, output_root=nb.output_root,
                               overrides=nb.search_overrides, device=nb.device, data_root=nb.data_root)
        records = [stored_record(job.folder) for _, job in searches]
        if all(records):
            stored = [{**r, "setting": spec.key, "run_dir": str(job.folder)} for r, (spec, job) in zip(records, searches)]
            searched = searched_genotypes(stored)
        else:  # the cell is chosen by its searches: cost it as DARTS_V2 for now
            for _, job in train_jobs(["DARTS_V2"], nb.seeds, nb.preset, dataset, **options):
                description = job.description.replace("DARTS_V2", "best MiLeNAS λ=1 cell")
                waiting.append(Need("train", description, None, None, job.run.kwargs["config"],
                                    status="waits for its searches", searched_cell=True))
    return waiting + [Need("train", job.description, job.folder, job.run, job.run.kwargs["config"],
                           searched_cell=name in searched)
                      for name, job in train_jobs({**searched, **candidates}, nb.seeds, nb.preset, dataset, **options)]


def _evaluation(dataset: str) -> Callable:
    def needs(nb, resolve_data: bool) -> list[Need]:
        searches = _searches(nb, ["milenas_lam1"]) if nb.include_searched else []
        if dataset == "cifar10":
            return searches + _trainings(nb, "cifar10", TABLE1_GENOTYPES, nb.data_root)
        root = nb.imagenet_root
        if root is None and nb.preset != "paper":  # the CIFAR-10 stand-in in ImageFolder layout
            stand_in = resolve_cache_dir() / "cifar10-imagefolder"  # where imagenet_root() extracts it
            root = imagenet_root(nb.preset, None)[0] if resolve_data else str(stand_in)
        return searches + (_trainings(nb, "imagenet", TABLE2_GENOTYPES, root) if root else [])
    return needs


def _gradient(nb, resolve_data: bool) -> list[Need]:
    """Notebook 8: one search stopped and measured along the way (``nb.gradient_error``)."""
    extra = {"device": nb.device, "seed": nb.seeds[0], **({"data_root": nb.data_root} if nb.data_root else {})}
    config = search_config(nb.preset, **{**nb.search_overrides, "method": nb.method, "lam": float(nb.lam), **extra})
    spec = setting_for(config.method, config.lam)
    shared = run_dir(spec, config, nb.preset, runs_root(nb.output_root))
    separate = (runs_root(nb.output_root) / nb.preset / "gradient_trajectory"
                / f"{spec.key}_seed{config.seed}-{config_hash(config)}")
    measured = next((f for f in (shared, separate) if (f / "gradient_error.json").exists()), None)
    folder = measured or (shared if not (shared / "record.json").exists() else separate)
    kwargs = dict(preset=nb.preset, method=nb.method, lam=nb.lam, seed=nb.seeds[0], points=nb.points, dtype=nb.dtype,
                  sweep_epsilons=nb.sweep_epsilons, overrides=nb.search_overrides, device=nb.device,
                  data_root=nb.data_root, output_root=nb.output_root, verbose=False)
    description = f"search {spec.key} seed {config.seed}, measured at {nb.points} states"
    run = Run(folder, "milenas_lib.experiments.gradient_error:gradient_error_trajectory", kwargs, description,
              config.epochs, config.device, config.num_threads or 1)
    return [Need("gradient", description, folder, run, config, status="stored" if measured else "missing")]


#: Per notebook: the runs its cells ask for (same settings, seeds and overrides).
NEEDS: dict[str, Callable[[Any, bool], list[Need]]] = {
    "01_search_walkthrough": lambda nb, _: _searches(nb, [milenas_setting(nb.lam)], nb.seeds[:1]),
    "02_train_val_gap": lambda nb, _: _searches(nb, settings.FIG2_SETTINGS),
    "03_search_val_accuracy": lambda nb, _: _searches(nb, settings.FIG3_SETTINGS),
    "04_gdas_vs_milenas": lambda nb, _: _searches(nb, settings.FIG5_SETTINGS),
    "05_model_size": lambda nb, _: _searches(nb, settings.FIG3_SETTINGS),
    "06_cifar10_evaluation": _evaluation("cifar10"),
    "07_imagenet_transfer": _evaluation("imagenet"),
    "08_gradient_error": _gradient,
    "09_teaching_walkthrough": lambda nb, _: _searches(nb, nb.methods),
}


# -- the plan ------------------------------------------------------------------

@dataclass
class Plan:
    preset: str
    needs: list[Need]
    times: costs.StepTimes
    store: Path
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[Need]:
        return [n for n in self.needs if n.status != "stored"]


def make_plan(preset: str, notebooks: Optional[Sequence[str]] = None, *, seeds: Any = None,
              parameters: Optional[dict] = None, output_root: Optional[str] = None, device_type: Optional[str] = None,
              resolve_data: bool = False, notebooks_dir: Path = NOTEBOOKS_DIR) -> Plan:
    """Every distinct run the notebooks need (a run two notebooks share is listed
    once, naming both), its status in the store and its estimated cost."""
    if device_type is None:
        import torch

        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    times = costs.StepTimes.load(device_type)
    by_key: dict[Any, Need] = {}
    notes: list[str] = []
    for name in sorted(notebook_names(notebooks_dir, notebooks), key=lambda n: NEEDS.get(n) is not _gradient):
        if name not in NEEDS:
            continue
        nb = notebook_context(name, preset, seeds, parameters, output_root, notebooks_dir)
        for need in NEEDS[name](nb, resolve_data):
            key = resolved(need.folder) if need.folder else need.description
            need = by_key.setdefault(key, need)  # the first notebook's run wins (the gradient search first)
            if name not in need.notebooks:
                need.notebooks.append(name)
        if name == "07_imagenet_transfer" and nb.imagenet_root is None and preset == "paper":
            notes.append("07: no imagenet_root given, so no ImageNet training (Table 2 then holds the quoted rows "
                         "and sizes); pass --param imagenet_root=/data/imagenet to plan it")
    for need in by_key.values():
        if need.folder is not None and need.status == "missing":
            notes += _set_status(need)
        search = need.kind in ("search", "gradient")
        need.steps = costs.search_steps(need.config) if search else costs.train_steps(need.config)
        per_step = (costs.search_step_seconds if search else costs.train_step_seconds)(need.config, times)
        need.seconds = 0.0 if need.status == REBUILDABLE else need.steps * per_step
    return Plan(preset, list(by_key.values()), times, runs_root(output_root) / preset, notes)


def _set_status(need: Need) -> list[str]:
    """The need's status in the store, trusting only records that prove themselves
    (records/trust.py); returns a line for each run that is not as it should be."""
    state = examine(need.folder)
    need.status = f"partial {state.epochs}/{need.config.epochs}" if state.status == PARTIAL else state.status
    return [state.line] if state.reason and state.status != STORED else []


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.3f}" if hours < 10 else f"{hours:,.0f}"


def format_plan(plan: Plan, workers: Optional[int] = None, per_gpu: Optional[int] = None, gpus: int = 1) -> str:
    unit = "GPU-h" if plan.times.device_type == "cuda" else "CPU-h"
    store = plan.store.relative_to(Path.cwd()) if plan.store.is_relative_to(Path.cwd()) else plan.store
    lines = [f"plan: preset {plan.preset}, run store {store}",
             f"per-step seconds from: {plan.times.source}", "",
             f"{'notebooks':20s} {'run':50s} {'status':23s} {'steps':>10s} {unit:>9s}"]
    for need in plan.needs:
        numbers = ",".join(sorted(n[:2] for n in need.notebooks))
        lines.append(f"{numbers:20s} {need.description[:50]:50s} {need.status:23s} {need.steps:10,d} "
                     f"{_hours(need.seconds):>9s}")
    todo = plan.missing
    total = sum(n.seconds for n in todo)
    lines += ["", f"total: {len(plan.needs)} runs, {len(plan.needs) - len(todo)} in the store, {len(todo)} to run: "
                  f"{_hours(total)} {unit} ({total / 86400:,.1f} {unit[:3]}-days)"]
    wall, how = costs.estimate_wall([n.seconds for n in todo], plan.times.device_type, workers, per_gpu, gpus)
    lines.append(f"wall clock: about {_hours(wall)} h with {how}" + (
        "" if workers or per_gpu else "; --workers N / --per-gpu K for another layout"))
    return "\n".join(lines + [f"note: {note}" for note in plan.notes])


def run_notebooks_missing(preset: str, notebooks: Optional[Sequence[str]] = None, *, parameters: Optional[dict] = None,
                          output_root: Optional[str] = None, workers: Optional[int] = None, backend: str = "local",
                          address: Optional[str] = None, per_gpu: Optional[int] = None,
                          notebooks_dir: Path = NOTEBOOKS_DIR, log: Callable[[str], None] = print) -> int:
    """Train every run the notebooks need and the store lacks, all at once, the
    longest (by its cost estimate) first; a training of a searched cell joins
    as soon as its searches are done.  Returns the number of runs executed;
    none with ``reuse_only`` among ``parameters``."""
    if str((parameters or {}).get("reuse_only", False)).lower() == "true":
        return 0  # the notebooks then rebuild from the store only, and name what is missing

    def runnable(searched_cells_only: bool = False) -> tuple[list[Run], bool]:
        """The missing runs that can start, with their estimates; and whether a training still waits for its cell."""
        plan = make_plan(preset, notebooks, parameters=parameters, output_root=output_root, resolve_data=True,
                         notebooks_dir=notebooks_dir)
        runs = [replace(n.run, estimate_s=n.seconds) for n in plan.missing
                if n.run is not None and (n.searched_cell or not searched_cells_only)]
        return runs, any(n.run is None for n in plan.missing)

    runs, waiting = runnable()
    if not runs:
        return 0

    def more() -> list[Run]:
        """After each finished run, while a training waits for its cell: the
        trainings of searched cells that became ready (only those: a plan made
        while other runs are half done may name other folders for them)."""
        nonlocal waiting
        if not waiting:
            return []
        became_ready, waiting = runnable(searched_cells_only=True)
        return became_ready

    log(f"reproduce: {len(runs)} missing run(s){' and the trainings of searched cells' if waiting else ''} "
        f"({backend}, workers={workers or 'auto'})")
    return len(execute(runs, backend=backend, workers=workers, per_gpu=per_gpu, address=address, more=more).ran)
