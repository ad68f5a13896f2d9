"""``python -m milenas_lib reproduce --preset smoke|medium|paper``: every figure and table.

First trains every run the notebooks need and the run store lacks, several
at a time (:mod:`milenas_lib.executor`); then runs each notebook of
``notebooks/`` through papermill with the preset injected, several at a
time too, as they only read the store and draw.  Writes the executed copies
to ``results/executed/``, checks that each notebook wrote the figures and
tables its spec lists (:mod:`milenas_lib.experiments.notebook_specs`), and
finishes with ``results/README.md``: an index of
every figure and table with the notebook, preset and data source that
produced it.  The first failing notebook stops the run (no other starts;
those running finish); the message names the notebook, the cell and the
error, and the executed copy holds the traceback.

``--only 02 03`` runs a subset; ``--param key=value`` (repeatable; the value
is read as JSON when it parses, e.g. ``seeds=[0,1]``) sets a parameter of
every notebook that declares it; ``--output-root DIR`` writes results and
figures under ``DIR`` instead of this checkout.  The flags are declared in
:mod:`milenas_lib.flags`; ``python -m milenas_lib.reproduce`` is an alias of
the subcommand, with the same flags and the same code (:func:`run_command`).
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .executor import BACKENDS, ExecutionInterrupted, ExecutorError, cpu_cores
from .experiments.notebook_specs import notebook_spec, specs_for
from .experiments.params import resolve_root, results_dir
from .flags import error_families, reproduce_parser
from .records.io import read_json, write_json
from .records.provenance import REPO_ROOT, git_commit

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

class NotebookFailed(RuntimeError):
    """A notebook raised, or did not write what it is listed with."""

    def __init__(self, notebook: str, message: str, executed: Optional[Path] = None):
        self.notebook, self.reason, self.executed = notebook, message, executed
        where = f"\nthe executed copy with the full traceback: {executed}" if executed else ""
        super().__init__(f"notebook {notebook} failed: {message}{where}")

    def __reduce__(self):  # raised in a worker process, re-raised here
        return type(self), (self.notebook, self.reason, self.executed)


def notebook_paths(notebooks_dir: Path = NOTEBOOKS_DIR, only: Optional[Sequence[str]] = None) -> list[Path]:
    """The notebooks to run (``NN_name.ipynb``; those whose spec says ``run_first``, then by
    number), optionally those whose name starts with one of ``only`` (e.g. ``["02", "03"]``)."""
    specs = specs_for(notebooks_dir)
    first = {name for name, spec in specs.items() if spec.run_first}
    paths = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.stem not in first, p.stem))
    if only:
        chosen = [p for p in paths if any(p.stem.startswith(prefix) for prefix in only)]
        unknown = [prefix for prefix in only if not any(p.stem.startswith(prefix) for p in paths)]
        if unknown:
            raise ValueError(f"no notebook matches {unknown}; notebooks are: {', '.join(p.stem for p in paths)}")
        return chosen
    return paths


def declared_parameters(path: Path) -> dict:
    """The parameters notebook ``path`` declares (its spec's), with their defaults."""
    return notebook_spec(path.stem, path.parent).defaults()


def missing_outputs(notebook: str, root: Path, preset: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """The figures (PNG and PDF), tables and reports a notebook's spec lists that it did not write."""
    return notebook_spec(notebook, notebooks_dir).missing_outputs(root, preset)


def _failure_message(error: Exception, executed: Path) -> str:
    """Where a notebook failed, numbered as in the stored notebook (papermill's
    injected-parameters cell left out), and the error."""
    index = getattr(error, "cell_index", None)
    position = "a cell"
    if index is not None and executed.exists():
        import nbformat

        # papermill's error banners come after the fact; its index counts the injected cell.
        cells = [c for c in nbformat.read(executed, as_version=4).cells
                 if "papermill-error-cell-tag" not in c.metadata.get("tags", ())]
        injected = ["injected-parameters" in c.metadata.get("tags", ()) for c in cells]
        position = f"cell {index - sum(injected[:index]) + 1} of {len(injected) - sum(injected)}"
    source = (getattr(error, "source", "") or "").strip().splitlines()
    first = f"\n  the cell starts: {source[0][:120]}" if source else ""
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    return (f"{position} (counting markdown cells, from 1; execution count {getattr(error, 'exec_count', None)}): "
            f"{ename}: {evalue}{first}")


def execute_notebook(path: Path, preset: str, parameters: Optional[dict] = None, output_root: Optional[Path] = None,
                     executed_dir: Optional[Path] = None, kernel_name: Optional[str] = None) -> Path:
    """Run one notebook with papermill; returns the executed copy's path.

    Only the parameters the notebook declares are injected.  Raises
    :class:`NotebookFailed` naming the notebook and the cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    root = resolve_root(output_root)
    executed_dir = Path(executed_dir) if executed_dir else results_dir(root, preset) / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    declared = declared_parameters(path)
    wanted = {"preset": preset, **(parameters or {})}
    if output_root is not None:
        wanted["output_root"] = str(root)
    injected = {k: v for k, v in wanted.items() if k in declared}
    # The spec declares the parameters; the parameters cell shows only the notebook's own, so
    # papermill's "unknown parameter" warning about the others would be noise.
    logging.getLogger("papermill").addFilter(lambda record: "Passed unknown parameter" not in record.getMessage())
    executed = executed_dir / path.name
    # The kernel inherits it: executed copies hold text progress bars, not widgets no one can render.
    os.environ.setdefault("MILENAS_PROGRESS", "text")
    try:
        papermill.execute_notebook(str(path), str(executed), parameters=injected, kernel_name=kernel_name,
                                   cwd=str(path.parent), progress_bar=False, log_output=False)
    except PapermillExecutionError as error:
        raise NotebookFailed(path.stem, _failure_message(error, executed), executed) from None
    missing = missing_outputs(path.stem, root, preset, path.parent)
    if missing:
        raise NotebookFailed(path.stem, "ran, but did not write " + ", ".join(missing), executed)
    return executed


def _timed_notebook(path: Path, preset: str, parameters: Optional[dict], output_root: Optional[Path],
                    kernel_name: Optional[str]) -> float:
    start = time.perf_counter()
    execute_notebook(path, preset, parameters, output_root, kernel_name=kernel_name)
    return time.perf_counter() - start


def execute_notebooks(paths: Sequence[Path], preset: str, parameters: Optional[dict] = None,
                      output_root: Optional[Path] = None, kernel_name: Optional[str] = None,
                      workers: Optional[int] = None, log: Callable[[str], None] = print) -> dict[str, float]:
    """Execute the notebooks, ``workers`` at a time (default: one per core; each
    has its own kernel, and they only read the run store and draw, each into
    its own files); returns the seconds each took, in notebook order.  After a
    failure no further notebook starts, those running finish, and the first
    failure is raised."""
    count = max(1, min(workers or cpu_cores(), len(paths)))
    timings: dict[str, float] = {}
    if count == 1:
        for path in paths:
            log(f"  {path.stem} ...")
            timings[path.stem] = _timed_notebook(path, preset, parameters, output_root, kernel_name)
            log(f"  {path.stem}: {timings[path.stem]:.0f} s")
        return timings
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    waiting, running, failure = list(paths), {}, None
    # The driver alone takes Ctrl-C (and SIGTERM, as KeyboardInterrupt): it stops the running notebooks.
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                             initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
        try:
            while running or (waiting and failure is None):
                while waiting and failure is None and len(running) < count:  # submitted one by one: none queued
                    path = waiting.pop(0)
                    log(f"  {path.stem} ...")
                    running[pool.submit(_timed_notebook, path, preset, parameters, output_root, kernel_name)] = path
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    path = running.pop(future)
                    try:
                        timings[path.stem] = future.result()
                        log(f"  {path.stem}: {timings[path.stem]:.0f} s")
                    except NotebookFailed as error:
                        failure = failure or error
        except KeyboardInterrupt:
            _stop_notebooks(pool)
            raise
    if failure is not None:
        raise failure
    return {path.stem: timings[path.stem] for path in paths}


def _stop_notebooks(pool: Any) -> None:
    """End the notebooks in flight at once (``timeout`` sends one SIGTERM and expects the end): each
    process running papermill is terminated; its kernel ends when its parent is gone (ipykernel's
    parent poller), and the kernel's run workers end themselves soon after (executor/local.py)."""
    for process in list(getattr(pool, "_processes", {}).values()):  # no public API before Python 3.14
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class RunReport:
    preset: str
    timings: dict[str, float]
    total_s: float
    index: Path


def run(preset: str, *, only: Optional[Sequence[str]] = None, parameters: Optional[dict] = None,
        output_root: Optional[Path] = None, notebooks_dir: Path = NOTEBOOKS_DIR, kernel_name: Optional[str] = None,
        workers: Optional[int] = None, backend: str = "local", address: Optional[str] = None,
        per_gpu: Optional[int] = None, log: Callable[[str], None] = print) -> RunReport:
    """Train every run the notebooks need and the store lacks, all at once
    (:func:`milenas_lib.experiments.plan.run_notebooks_missing`: ``workers`` at a time,
    1 = one after another; ``backend``/``address``/``per_gpu`` as in
    :func:`milenas_lib.executor.execute`); then execute the notebooks
    (``workers`` at a time, see :func:`execute_notebooks`), which only read the
    store and draw, and write the index.  Stops at the first failure."""
    from .experiments.plan import run_notebooks_missing

    if backend == "ray" and address:
        from .executor.cluster import wait_for_address

        wait_for_address(address)  # before any planning: no cluster is one line within its timeout
    root = resolve_root(output_root)
    check_driver_parameters(preset, parameters or {}, None if output_root is None else root)
    paths = notebook_paths(notebooks_dir, only)
    known = set().union(*(declared_parameters(p) for p in paths)) if paths else set()
    unknown = sorted(set(parameters or {}) - known)
    if unknown:
        raise ValueError(f"no notebook declares the parameter(s) {unknown}; declared are: {', '.join(sorted(known))}")
    start = time.perf_counter()
    log(f"reproduce: {len(paths)} notebook(s), preset {preset}, results under {root}")
    run_notebooks_missing(preset, [p.stem for p in paths], parameters=parameters,
                          output_root=None if output_root is None else str(root), workers=workers, backend=backend,
                          address=address, per_gpu=per_gpu, notebooks_dir=notebooks_dir, log=log)
    runs_s = time.perf_counter() - start
    log(f"  missing runs of every notebook: {runs_s:.0f} s")
    timings = execute_notebooks(paths, preset, parameters, output_root, kernel_name, workers, log)
    total = time.perf_counter() - start
    timing_path = results_dir(root, preset) / "executed" / f"timings_{preset}.json"
    previous = read_json(timing_path)["notebooks"] if timing_path.exists() and only else {}
    write_json(timing_path, {"preset": preset, "notebooks": {**previous, **timings}, "total_s": total,
                             "missing_runs_s": runs_s, "workers": workers, "backend": backend,
                             "complete_run": not only, "git_commit": git_commit(),
                             "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    index = write_index(root, preset)
    log(f"reproduce: done in {total / 60:.1f} min; index: {index}")
    return RunReport(preset, timings, total, index)


#: Notebook parameters that reproduce's own flags set: the pre-pass plans with the flag, so a
#: ``--param`` that differs would train one thing and draw another.
DRIVER_PARAMETERS = {"preset": "--preset", "output_root": "--output-root"}


def check_driver_parameters(preset: str, parameters: dict, output_root: Optional[Path]) -> None:
    """Refuse ``--param preset=`` / ``--param output_root=`` unless they equal ``--preset`` / ``--output-root``."""
    flags = {"preset": preset, "output_root": output_root}
    for key, flag in DRIVER_PARAMETERS.items():
        if key not in parameters:
            continue
        given, wanted = parameters[key], flags[key]
        same = given == wanted if key == "preset" else (
            wanted is not None and given not in (None, "") and resolve_root(given) == wanted)
        if not same:
            flag_value = "(not given)" if wanted is None else wanted
            raise ValueError(f"--param {key}={given} conflicts with {flag} {flag_value}; set it with {flag} only")


def _link(path: str, text: str) -> str:
    """A link from ``results/<preset>/README.md`` to ``path`` (relative to the output root)."""
    return f"[{text}](../../{path})"


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def write_index(output_root: Optional[Path] = None, preset: str = "smoke") -> Path:
    """``results/<preset>/README.md``: every figure, table and report the notebooks listed
    in their manifests, with notebook, data source and n; plus the run times."""
    root = resolve_root(output_root)
    folder = results_dir(root, preset)
    manifests = [read_json(p) for p in sorted(folder.glob("*/manifest.json"))]
    artifacts = [a for m in manifests for a in m["artifacts"]]
    lines = [f"# Results index, preset `{preset}`", "",
             "Generated by `python -m milenas_lib reproduce` (`make reproduce`); do not edit by hand. Every figure",
             "and table below was written by the notebook named beside it, with the preset and data it names.",
             "`smoke` results come from a tiny supernet on a few hundred CIFAR-10 images: they show that the",
             "pipeline runs end to end and are no evidence for or against the paper; `paper` results use the",
             "paper's protocol. Values quoted from the paper are marked as such in the figures.", ""]
    timings = sorted((folder / "executed").glob("timings_*.json"))
    for timing_path in timings:
        timing = read_json(timing_path)
        lines += [f"## Run times, preset `{timing['preset']}`", "",
                  f"Finished {timing['finished']}, code {timing.get('git_commit')}; total "
                  f"{timing['total_s'] / 60:.1f} min" + ("" if timing.get("complete_run") else
                                                         " (last partial run; per-notebook times merged)") + ".", "",
                  "| notebook | time | executed copy (on the machine that ran it; never committed) |",
                  "| --- | ---: | --- |"]
        for name, seconds in timing["notebooks"].items():  # a path, not a link: git ignores executed/
            lines.append(f"| {name} | {seconds:.0f} s | `executed/{name}.ipynb` |")
        lines.append("")
    for kind, title in (("figure", "Figures"), ("table", "Tables"), ("report", "Reports")):
        lines += [f"## {title}", "", f"| {kind} | notebook | preset | data source | n | caption |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for a in sorted((a for a in artifacts if a["kind"] == kind), key=lambda a: (a["notebook"], a["name"])):
            if kind in ("figure", "report"):
                second = "PDF" if kind == "figure" else "JSON"
                name = _link(a["paths"][0], a["name"]) + " (" + _link(a["paths"][1], second) + ")"
            else:
                name = _link(a["paths"][0], a["name"]) + " (" + _link(a["paths"][1], "provenance") + ")"
            lines.append(f"| {name} | {a['notebook']} | {a['preset']} | {_cell(a['data_source'])} | {_cell(a['n'])} "
                         f"| {_cell(a['caption'])} |")
        lines.append("")
    path = folder / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


#: The alias's name, as the command that resumes it is printed.
ALIAS = "python -m milenas_lib.reproduce"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m milenas_lib.reproduce``: the alias of ``python -m milenas_lib reproduce``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = reproduce_parser(ALIAS).parse_args(argv)
    args.command_line = f"{ALIAS} {shlex.join(argv)}"
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """``reproduce`` with its parsed flags (``args.command_line``: the command that resumes it).
    An expected failure is one line and status 1 (a notebook) or 2; Ctrl-C and SIGTERM keep what
    is finished and print the command that resumes.  The SIGTERM handler is this call's only:
    the caller's is back on return."""
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)  # a scheduler's stop: the same end as Ctrl-C
    try:
        return _reported(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _reported(args: argparse.Namespace) -> int:
    """The run, each expected failure turned into one line and its exit status."""
    parameters = dict(args.param)
    try:
        if args.download:
            _download_first(parameters)
        run(args.preset, only=args.only, parameters=parameters, output_root=args.output_root,
            notebooks_dir=args.notebooks or NOTEBOOKS_DIR, kernel_name=args.kernel, workers=args.workers,
            backend=args.backend, address=args.address, per_gpu=args.per_gpu)
    except NotebookFailed as failure:
        print(f"reproduce: {failure}", file=sys.stderr)
        return 1
    except ExecutionInterrupted as stop:
        print(f"reproduce: {stop}; run the same command to resume: {args.command_line}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print(f"reproduce: interrupted; finished runs and notebooks are kept, runs in progress keep their last "
              f"checkpoint; run the same command to resume: {args.command_line}", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - expected failures become one line, the rest keep their traceback
        line = failure_line(error, parameters)
        if line is None:
            raise
        print(f"reproduce: error: {line}", file=sys.stderr)
        return 2
    return 0


def _download_first(parameters: dict) -> None:
    """``--download``: the official CIFAR-10 before any run starts; every run and notebook
    kernel inherits ``MILENAS_DATA_ROOT`` and so reads that copy."""
    from .data import download_cifar10

    root = download_cifar10(parameters.get("data_root"))
    os.environ["MILENAS_DATA_ROOT"] = str(root)
    print(f"reproduce: data: official CIFAR-10 in {root}")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _expected_errors() -> tuple[type[BaseException], ...]:
    bad_input, run_failures = error_families()
    return (ValueError, ExecutorError, *bad_input, *run_failures)


def failure_line(error: BaseException, parameters: dict) -> Optional[str]:
    """The message for an expected failure of ``reproduce`` (None: not an expected one),
    whole: a message that lists places and fixes on several lines keeps them all.
    A run's failure names the run, its folder and what is on disk; a non-finite
    run, the notebook parameter that changes its settings."""
    from .experiments.store import non_finite_line

    run = getattr(error, "failed_run", None)
    if isinstance(error, FloatingPointError) and run is not None:
        return non_finite_line(str(error), run, parameters)
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) \
            and not isinstance(error, _expected_errors()):
        where = error.filename or "the results folder"
        return (f"cannot write {where} ({os.strerror(error.errno).lower()}); pass --output-root DIR with a writable "
                "folder")
    if not isinstance(error, _expected_errors()):
        return None
    message = str(error).strip()
    return f"{run.label}: {message}" if run is not None and run.label not in message else message


if __name__ == "__main__":
    sys.exit(main())
