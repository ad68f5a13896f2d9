"""The run store: searches and trainings shared between notebooks, and the dispatch of missing runs.

A search run lives in ``results/runs/<preset>/<setting>/seed<S>-<config hash>/``
(trainings in ``results/runs/<preset>/train_<dataset>/<name>/seed<S>-<hash>/``):
figures 2, 3 and 6 read the same runs, and a completed run is read back
instead of being trained again.  The hash covers the run identity (every
setting that changes the result, not device, threads or data path), so a
changed preset never silently reuses old runs.

A record is read back only when it proves itself (records/trust.py: it equals
the record inside its checkpoint, or carries a valid digest, and its identity
is the one its folder is named for); anything else is rebuilt from the
checkpoint or trained again, never drawn.  Everything that fills the store
goes through :func:`milenas_lib.executor.execute`, which runs only the
folders without a trusted record: :func:`run_missing`
for a notebook's own cells, ``plan.run_notebooks_missing`` for ``make reproduce``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ..config import SearchConfig, search_config
from ..executor import Run, execute
from ..names import RECORD_NAME
from ..paper.settings import Setting, record_setting, setting
from ..records.identity import identity_hash, run_identity
from ..records.run_dir import NonFiniteError
from ..records.trust import STORED, examine, settle, stored_record
from .params import PRESETS, ParameterError, resolve_overrides, resolve_seeds, runs_root


def config_hash(config: SearchConfig) -> str:
    """The run-store name of a search config: the hash of its run identity (records/identity.py).
    The data source is not known before the data are loaded; the run itself checks it on resume."""
    return identity_hash(run_identity(config, None))


#: The fields that make a setting the curve its label names: overrides may not change them.
SETTING_FIELDS = ("method", "lam", "order")


def check_setting_kept(spec: Setting, preset: str, overrides: Mapping, name: str = "search_overrides") -> None:
    """Refuse ``overrides`` that would change what ``spec`` is (its method, λ or order): the run
    would be stored and drawn under the setting's label while being another method's."""
    base = search_config(preset, **spec.overrides)
    changed = [f"{key}: {getattr(base, key)!r} -> {overrides[key]!r}" for key in SETTING_FIELDS
               if key in overrides and overrides[key] != getattr(base, key)]
    if changed:
        raise ParameterError(f"{name} may not change the method, λ or order of setting {spec.key!r} "
                             f"({spec.label}; {', '.join(changed)}); choose the setting of that method instead "
                             "and leave these fields out of " + name)


def make_search_config(key: str | Setting, seed: int, preset: str, overrides: Optional[Mapping] = None,
                       device: str = "auto", data_root: Optional[str] = None) -> SearchConfig:
    """The config of one run of a setting: the preset, the setting's method/λ/order, then ``overrides``
    (which may not change those: :func:`check_setting_kept`)."""
    spec = setting(key)
    overrides = resolve_overrides(overrides, "search_overrides")
    check_setting_kept(spec, preset, overrides)
    extra: dict[str, Any] = {"device": device, "seed": int(seed)}
    if data_root:
        extra["data_root"] = str(data_root)
    return search_config(preset, **{**spec.overrides, **overrides, **extra})


def run_dir(key: str | Setting, config: SearchConfig, preset: str, root: Path) -> Path:
    return Path(root) / preset / setting(key).key / f"seed{config.seed}-{config_hash(config)}"


def non_finite_line(message: str, run: Any, parameters: Optional[dict] = None) -> str:
    """A run that went non-finite, in one line: the run, its folder, what is kept, and the notebook
    parameter that lowers its learning rates (the loops advise ``--set`` flags, which belong to
    ``search``/``train``, not to the notebooks or ``reproduce``)."""
    what, *rest = message.split("; ")
    kept = next((part for part in rest if "checkpoint" in part), "its record.json notes the failure")
    name = "train_overrides" if "loops.train" in run.target else "search_overrides"
    suggested = {key: json.loads(value) for key, value in re.findall(r"--set (\w+)=([0-9.eE+-]+\d)", message)}
    given = (parameters or {}).get(name)
    value = json.dumps({**(given if isinstance(given, dict) else {}), **suggested})
    advice = (f"e.g. {name} = {value} in the notebook's parameters (reproduce: --param '{name}={value}')"
              if suggested else f"in the notebook parameter {name}")
    return (f"{run.label} went non-finite ({what}) in {run.folder}; {kept}; lower its learning rates, {advice}; "
            "new settings train into a new folder of the store")


@dataclass(frozen=True)
class RunJob:
    """One run of the store: its folder, a line for the log, and what trains it (an executor :class:`Run`)."""

    folder: Path
    description: str
    run: Run


def run_missing(jobs: Sequence[RunJob], kind: str, reuse_only: bool = False, verbose: bool = True, *,
                progress: bool = True, workers: Optional[int] = None, backend: str = "local",
                address: Optional[str] = None) -> list[dict]:
    """The record of each job: the finished one stored in its folder, after
    training every missing one at once through :func:`milenas_lib.executor.execute`
    (``workers``/``backend``/``address``: worker processes here by default, or
    Ray; same records as one after the other; ``progress``: a bar per run and
    one overall).  With ``reuse_only`` nothing is run: missing runs are listed
    in the error instead.  A record is read only when it proves itself
    (records/trust.py :func:`stored_record`); a damaged one is rebuilt from
    its checkpoint, or else trained again (not with ``reuse_only``), saying so."""
    log = print if verbose else None
    states = {job.folder: settle(job.folder, set_aside=not reuse_only, log=log) for job in jobs}
    missing = [job for job in jobs if states[job.folder].status != STORED]
    if reuse_only and missing:
        listed = "\n  ".join(states[job.folder].line if states[job.folder].reason else str(job.folder)
                             for job in missing)
        raise FileNotFoundError(f"reuse_only=True but {len(missing)} {kind} run(s) are not in the store:\n  "
                                f"{listed}\nrun the notebook with reuse_only=False to train them")
    if missing:
        try:
            report = execute([job.run for job in missing], backend=backend, workers=workers, address=address,
                             progress=progress)
        except FloatingPointError as error:
            if getattr(error, "failed_run", None) is None:
                raise
            raise NonFiniteError(non_finite_line(str(error), error.failed_run)) from None
        if verbose:
            print(f"ran    {len(report.ran)} {kind} run(s) in {report.wall_s:.1f} s ({report.backend}, "
                  f"{report.workers} at a time)")
    records = [stored_record(job.folder) for job in jobs]
    for job, record in zip(jobs, records):
        if record is None:  # a run that returned without finishing (e.g. stopped by a time limit)
            raise RuntimeError(f"{job.description} did not finish: {job.folder} holds no completed record; "
                               "run again to resume it")
        if verbose and job not in missing:
            print(f"stored {job.description}: {record['time_s']:6.1f} s {kind} time, {job.folder}")
    return records


def search_jobs(settings: Sequence[str | Setting], seeds: Any, preset: str, *,
                root: Optional[str | Path] = None, output_root: Optional[str | Path] = None,
                overrides: Any = None, device: str = "auto", data_root: Optional[str] = None
                ) -> list[tuple[Setting, RunJob]]:
    """The search runs of (setting, seed) pairs, each with its run-store folder (nothing is run)."""
    store = Path(root) if root is not None else runs_root(output_root)
    seeds = resolve_seeds(seeds, preset)
    overrides = resolve_overrides(overrides, "search_overrides")
    jobs = []
    for key in settings:
        spec = setting(key)
        for seed in seeds:
            config = make_search_config(spec, seed, preset, overrides, device, data_root)
            path = run_dir(spec, config, preset, store)
            description = f"search {spec.key:15s} seed {seed}"
            jobs.append((spec, RunJob(path, description, Run.search(config, path, " ".join(description.split())))))
    return jobs


def search_runs(settings: Sequence[str | Setting], seeds: Any, preset: str, *,
                root: Optional[str | Path] = None, output_root: Optional[str | Path] = None,
                overrides: Any = None, device: str = "auto", data_root: Optional[str] = None,
                reuse_only: bool = False, verbose: bool = True, progress: bool = True,
                workers: Optional[int] = None, backend: str = "local", address: Optional[str] = None) -> list[dict]:
    """One search per (setting, seed); completed runs in the store are read back, the
    missing ones are trained all at once (partial ones resume), unless ``reuse_only``.

    Returns the records (``loops.search`` format) with ``setting``, ``label``,
    ``preset`` and ``run_dir`` added.
    """
    jobs = search_jobs(settings, seeds, preset, root=root, output_root=output_root, overrides=overrides,
                       device=device, data_root=data_root)
    records = run_missing([job for _, job in jobs], "search", reuse_only, verbose, progress=progress,
                          workers=workers, backend=backend, address=address)
    return [{**record, "setting": spec.key, "label": spec.label, "preset": preset, "run_dir": str(job.folder)}
            for record, (spec, job) in zip(records, jobs)]


def store_folder(config: SearchConfig, preset: str, output_root: Optional[str | Path] = None) -> Path:
    """The run-store folder a notebook reads ``config``'s search from (``python -m milenas_lib
    search --store``): the setting derived from its method, λ and order, its seed and identity hash."""
    key = record_setting({"method": config.method, "lam": config.lam, "order": config.order})
    return run_dir(key, config, preset, runs_root(output_root))


def load_records(path_or_preset: str | Path, *, output_root: Optional[str | Path] = None) -> list[dict]:
    """Search records any explorer, frame and plot accepts, from a preset's run store
    (``"medium"``: ``results/runs/medium`` under ``output_root``, default this checkout),
    a store or any folder of runs (searched recursively), a run folder, or a ``record.json``.

    Only finished records that prove themselves (records/trust.py) are returned, each
    with ``setting`` and ``label`` derived from its method, λ and order, ``run_dir``, and
    ``preset`` where its folder sits in a store; the others are named in a warning."""
    import warnings

    given = str(path_or_preset)
    base = runs_root(output_root) / given if given in PRESETS and not Path(given).exists() else Path(given).expanduser()
    if base.name == RECORD_NAME:
        base = base.parent
    if not base.exists():
        raise FileNotFoundError(f"{base} does not exist: pass a preset ({', '.join(PRESETS)}), a run store folder, "
                                "a run folder or a record.json")
    folders = sorted({path.parent for path in base.rglob(RECORD_NAME)} | ({base} if (base / RECORD_NAME).exists()
                                                                          else set()))
    records, skipped = [], []
    for folder in folders:
        state = examine(folder)
        if state.status != STORED or state.record.get("kind", "search") != "search":
            if state.status != STORED:
                skipped.append(f"{folder} ({state.status}{': ' + state.reason if state.reason else ''})")
            continue
        spec = record_setting(state.record)
        preset = folder.parent.parent.name if folder.parent.parent.name in PRESETS else None
        records.append({**state.record, "setting": spec.key, "label": spec.label, "preset": preset,
                        "run_dir": str(folder)})
    if skipped:
        warnings.warn(f"left out {len(skipped)} run(s) without a trusted finished record: " + "; ".join(skipped),
                      stacklevel=2)
    if not records:
        raise FileNotFoundError(f"no finished search record under {base}")
    return records
