"""``python -m milenas_lib plan``: every run the notebooks need, which are in the store, and what the rest cost.

A notebook's runs come from its spec (:mod:`.spec`, :mod:`.notebook_specs`):
its parameters with their defaults, checked as the notebook's own first cell
checks them, and ``spec.runs.needs``: the same searches and trainings the
notebook's ``nb.runs()`` reads back, with the same run-store folders.  ``make reproduce`` trains the missing ones all at once
through :mod:`milenas_lib.executor` (:func:`run_notebooks_missing`) before the
notebooks execute, so that these only read and draw.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from .. import costs
from ..executor import Run, execute
from ..records.provenance import REPO_ROOT
from ..records.trust import PARTIAL, REBUILDABLE, STORED, examine, resolved
from .needs import Need
from .notebook_specs import specs_for
from .params import runs_root
from .spec import NotebookParameters, NotebookSpec

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def notebook_names(notebooks_dir: Path = NOTEBOOKS_DIR, only: Optional[Sequence[str]] = None) -> list[str]:
    # A notebook is its .ipynb or its py:percent twin (either may be alone, e.g. a user's own notebook).
    names = sorted({p.stem for p in Path(notebooks_dir).glob("[0-9][0-9]_*") if p.suffix in (".py", ".ipynb")})
    if only:
        unknown = [prefix for prefix in only if not any(n.startswith(prefix) for n in names)]
        if unknown:
            raise ValueError(f"no notebook matches {unknown}; notebooks are: {', '.join(names)}")
        names = [n for n in names if any(n.startswith(prefix) for prefix in only)]
    return names


def notebook_parameters(spec: NotebookSpec, preset: str, seeds: Any = None, parameters: Optional[dict] = None,
                        output_root: Optional[str] = None) -> NotebookParameters:
    """The notebook's parameters as its kernel will check them: the spec's defaults, then
    ``parameters`` (those the spec declares, as ``make reproduce`` injects them), ``preset``, ``seeds``."""
    values = {**(parameters or {}), "preset": preset, "plan_only": False}
    if seeds is not None:
        values["seeds"] = seeds
    if output_root is not None:
        values["output_root"] = str(output_root)
    return spec.check(values, ignore_unknown=True)


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
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    times = costs.StepTimes.load(device_type)
    by_key: dict[Any, Need] = {}
    notes: list[str] = []
    specs = specs_for(notebooks_dir)
    names = [name for name in notebook_names(notebooks_dir, notebooks) if name in specs]
    for name in sorted(names, key=lambda n: not specs[n].run_first):
        spec = specs[name]
        nb = notebook_parameters(spec, preset, seeds, parameters, output_root)
        for need in spec.runs.needs(nb, resolve_data):
            key = resolved(need.folder) if need.folder else need.description
            need = by_key.setdefault(key, need)  # the first notebook's run wins (the gradient search first)
            if name not in need.notebooks:
                need.notebooks.append(name)
        note = spec.note(nb) if spec.note else None
        if note:
            notes.append(note)
    for need in by_key.values():
        if need.folder is not None and need.status == "missing":
            notes += _set_status(need)
        search = need.kind in ("search", "gradient")
        need.steps = costs.search_steps(need.config) if search else costs.train_steps(need.config)
        # A search also evaluates after each epoch and starts its process (costs.search_seconds).
        need.seconds = 0.0 if need.status == REBUILDABLE else (
            costs.search_seconds(need.config, times) if search
            else need.steps * costs.train_step_seconds(need.config, times))
    return Plan(preset, list(by_key.values()), times, runs_root(output_root) / preset, notes)


def _set_status(need: Need) -> list[str]:
    """The need's status in the store, trusting only records that prove themselves
    (records/trust.py); returns a line for each run that is not as it should be."""
    state = examine(need.folder)
    need.status = f"partial {state.epochs}/{need.config.epochs}" if state.status == PARTIAL else state.status
    if state.status == STORED and isinstance(state.record.get("time_s"), (int, float)):
        need.measured_s = float(state.record["time_s"])
    return [state.line] if state.reason and state.status != STORED else []


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.3f}" if hours < 10 else f"{hours:,.0f}"


def format_plan(plan: Plan, workers: Optional[int] = None, per_gpu: Optional[int] = None, gpus: int = 1) -> str:
    unit = "GPU-h" if plan.times.device_type == "cuda" else "CPU-h"
    store = plan.store.relative_to(Path.cwd()) if plan.store.is_relative_to(Path.cwd()) else plan.store
    lines = [f"plan: preset {plan.preset}, run store {store}",
             f"per-step seconds from: {plan.times.source}", "",
             f"{'notebooks':20s} {'run':50s} {'status':23s} {'steps':>10s} {unit:>9s} {'took':>9s}"]
    for need in plan.needs:
        numbers = ",".join(sorted(n[:2] for n in need.notebooks))
        took = "" if need.measured_s is None else f"{_hours(need.measured_s)} ({need.measured_s / need.seconds:.2f}x)"
        lines.append(f"{numbers:20s} {need.description[:50]:50s} {need.status:23s} {need.steps:10,d} "
                     f"{_hours(need.seconds):>9s} {took}")
    lines += _measured_line(plan.needs, unit)
    todo = plan.missing
    total = sum(n.seconds for n in todo)
    lines += ["", f"total: {len(plan.needs)} runs, {len(plan.needs) - len(todo)} in the store, {len(todo)} to run: "
                  f"{_hours(total)} {unit} ({total / 86400:,.1f} {unit[:3]}-days)"]
    wall, how = costs.estimate_wall([n.seconds for n in todo], plan.times.device_type, workers, per_gpu, gpus)
    lines.append(f"wall clock: about {_hours(wall)} h with {how}" + (
        "" if workers or per_gpu else "; --workers N / --per-gpu K for another layout"))
    return "\n".join(lines + [f"note: {note}" for note in plan.notes])


def _measured_line(needs: Sequence[Need], unit: str) -> list[str]:
    """The stored runs' estimate beside what their records say they took (each run's wall clock,
    so a busy machine shows as a ratio above 1)."""
    timed = [n for n in needs if n.measured_s is not None and n.seconds > 0]
    if not timed:
        return []
    estimate, measured = sum(n.seconds for n in timed), sum(n.measured_s for n in timed)
    return ["", f"the {len(timed)} stored runs: estimated {_hours(estimate)} {unit}, their records took "
                f"{_hours(measured)} {unit} ({measured / estimate:.2f}x the estimate; each record's time_s, the "
                "run's wall clock: load on the machine that ran it shows here)"]


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
