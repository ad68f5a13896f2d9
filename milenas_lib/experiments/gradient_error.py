"""Notebook 8: how wrong is DARTS' finite-difference hypergradient (Eq. 7)?

Along one search, watched live at a few steps, each state is compared
on one fixed batch: DARTS' finite difference at several ε and the first-order
α directions (single-level, 1st-order DARTS, MiLeNAS) against the exact
one-step hypergradient by double backward (what Eq. 7 estimates).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import pandas as pd
import torch

from ..algorithms.base import SearchContext, alpha_gradient
from ..algorithms.hypergradient import darts_hypergradient, exact_hypergradient, gradient_agreement
from ..algorithms.rules import mixed_level_gradient
from ..config import SearchConfig, search_config
from ..data import dataset_images, make_search_data
from ..loops.search import run_search
from ..loops.searcher import Event, Search, StepEvent
from ..names import RECORD_NAME
from ..paper.settings import setting_for
from ..records.io import read_json, write_json
from ..records.provenance import resolve_device
from ..records.trust import STORED, RunStoreError, settle
from .params import DTYPE_NAMES, SWEEP_EPSILONS, resolve_overrides, runs_root
from .store import check_setting_kept, config_hash, run_dir

DTYPES = dict(zip(DTYPE_NAMES, (torch.float64, torch.float32)))


def measurement_batch(config: SearchConfig, dtype: torch.dtype, device: torch.device) -> tuple:
    """A fixed paired batch (the first of epoch 0), so that changes along the
    trajectory come from the search state, not from the batch; with the steps
    per epoch and the number of classes."""
    images = dataset_images(config.dataset, seed=config.seed, data_root=config.data_root)
    data = make_search_data(images, config.batch_size, config.seed, device, per_class=config.per_class,
                            resolution=config.resolution)
    x_tr, y_tr, x_val, y_val = next(iter(data.paired.epoch(0)))
    return (x_tr.to(dtype), y_tr, x_val.to(dtype), y_val), len(data.paired), len(images.classes)


def search_state(config: SearchConfig, state: Optional[dict], num_classes: int, dtype: torch.dtype,
                 device: torch.device) -> SearchContext:
    """The search context of a search's ``state`` (``{"model": ..., "w_optimizer": ...}``
    state dicts, or None for a fresh start) in ``dtype``: built as the search
    builds it, then the weights and w optimizer (momentum buffers, cast to
    ``dtype``) loaded; ``ctx.lr`` is ξ of Eq. 6 at that state."""
    torch.manual_seed(config.seed)
    ctx = SearchContext.from_config(config, num_classes, device, dtype)
    if state is not None:
        ctx.model.load_state_dict(state["model"])
        ctx.w_optimizer.load_state_dict(state["w_optimizer"])
    ctx.model.train()  # the search measures gradients with batch statistics
    ctx.lr = ctx.w_optimizer.param_groups[0]["lr"]
    return ctx


def _agreements(prefix: str, estimate, reference) -> dict:
    return {f"{prefix}_{k}": v for k, v in gradient_agreement(estimate, reference).items()}


def _norm(tensors) -> float:
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors)))


def measure_gradients(ctx: SearchContext, batch: tuple, lam: float, epsilons: Sequence[float]) -> list[dict]:
    """At one search state: the exact one-step hypergradient (double backward),
    DARTS' finite-difference estimate at each ε, and the first-order α
    directions (single-level, 1st-order DARTS, MiLeNAS), compared with it."""
    x_tr, y_tr, x_val, y_val = batch
    x_tr, x_val = (x.contiguous(memory_format=ctx.layout) for x in (x_tr, x_val))  # as the search feeds them
    xi = ctx.lr
    exact = exact_hypergradient(ctx, x_tr, y_tr, x_val, y_val, xi)
    common = {"xi": xi, "direct_norm": _norm(exact.direct), "second_order_norm": xi * _norm(exact.second_order),
              "exact_norm": _norm(exact.total)}
    g_train = alpha_gradient(ctx, x_tr, y_tr)
    g_val = alpha_gradient(ctx, x_val, y_val)
    first_order = {**_agreements("milenas", mixed_level_gradient(g_train, g_val, lam), exact.total),
                   **_agreements("darts_1st", g_val, exact.total),
                   **_agreements("single_level", g_train, exact.total)}
    rows = []
    for epsilon in epsilons:
        approx = darts_hypergradient(ctx, x_tr, y_tr, x_val, y_val, xi, epsilon_scale=epsilon)
        rows.append({**common, "epsilon": epsilon, **_agreements("total", approx.total, exact.total),
                     **_agreements("second_order", approx.second_order, exact.second_order), **first_order})
    return rows


def trajectory_summary(trajectory: pd.DataFrame) -> pd.DataFrame:
    """The columns of the trajectory worth reading, one row per state and ε."""
    columns = ["step", "epoch", "epsilon", "xi", "second_order_relative_error", "total_relative_error",
               "total_cosine", "darts_1st_cosine", "milenas_cosine", "single_level_cosine"]
    frame = trajectory[columns].copy()
    frame.insert(4, "ξ‖g₂‖ / ‖g₁‖", trajectory["second_order_norm"] / trajectory["direct_norm"])
    return frame


def _cached_measurements(folder: Path, request: dict) -> Optional[dict]:
    cache = folder / "gradient_error.json"
    if not cache.exists():
        return None
    stored = read_json(cache)
    if stored.get("request") != request:
        return None
    state = settle(folder, set_aside=False)  # the search's record is believed only when it proves itself
    if state.status != STORED:
        raise RunStoreError(f"{state.line.split('; reproduce')[0]}; the measurements beside it cannot be trusted "
                            f"without it: delete {folder} to measure again")
    return {"trajectory": pd.DataFrame(stored["trajectory"]), "sweep": pd.DataFrame(stored["sweep"]),
            "record": state.record, "config": stored["config"], "run_dir": str(folder)}


def _measurement_folder(config: SearchConfig, preset: str, request: dict, output_root, reuse_only: bool,
                        verbose: bool) -> tuple[Path, Optional[dict]]:
    """Where to measure, or the cached measurements.  The search is the run
    store's own run of this setting when that does not exist yet (watching
    leaves it bit-identical, so notebooks 2-3 reuse it); otherwise a
    separate run in ``gradient_trajectory/``."""
    spec = setting_for(config.method, config.lam)
    shared = run_dir(spec, config, preset, runs_root(output_root))
    separate = (runs_root(output_root) / preset / "gradient_trajectory"
                / f"{spec.key}_seed{config.seed}-{config_hash(config)}")
    for folder in (shared, separate):
        cached = _cached_measurements(folder, request)
        if cached is not None:
            if verbose:
                print(f"stored measurements: {folder / 'gradient_error.json'}")
            return folder, cached
    if reuse_only:
        raise FileNotFoundError(f"reuse_only=True but no measurements for these settings in {shared} or {separate}; "
                                "run the notebook with reuse_only=False")
    folder = shared if not shared.exists() else separate
    if (folder / RECORD_NAME).exists():
        raise FileExistsError(f"{folder} holds a search but no measurements of these settings; the states between "
                              "its steps are gone: delete the folder to measure again")
    return folder, None


def gradient_error_trajectory(preset: str, *, method: str = "darts_2nd", lam: float = 1.0, seed: int = 0,
                              points: int = 5, epsilons: Sequence[float] = (1e-2, 1e-8),
                              sweep_epsilons: Sequence[float] = SWEEP_EPSILONS,
                              sweep_dtypes: Sequence[str] = ("float64", "float32"), dtype: str = "float64",
                              overrides: Any = None, device: str = "auto", data_root: Optional[str] = None,
                              output_root: Optional[str | Path] = None, reuse_only: bool = False,
                              verbose: bool = True) -> dict:
    """Measure DARTS' hypergradient error along one search.

    The search (``method``, run in its own folder of the run store) is
    watched live: at ``points`` evenly spaced steps, start and end included,
    its current state is copied, cast to ``dtype``, and
    :func:`measure_gradients` compares, on one fixed batch, the finite
    difference at each of ``epsilons`` (DARTS uses 0.01) and the first-order
    directions with the exact hypergradient.  At the last state the error is
    also swept over ``sweep_epsilons`` in each of ``sweep_dtypes``.  The
    measurements run on copies, so the search is the one an unwatched run
    makes.  Returns ``{"trajectory": DataFrame, "sweep": DataFrame, "record":
    search record, "config": dict}``; the measurements are cached next to the run.
    """
    if points < 2:
        raise ValueError(f"points must be at least 2 (start and end), got {points}")
    extra = {"device": device, "seed": int(seed), **({"data_root": str(data_root)} if data_root else {})}
    overrides = resolve_overrides(overrides, "search_overrides")
    check_setting_kept(setting_for(method, lam), preset, overrides)  # method and λ are this function's arguments
    config = search_config(preset, **{**overrides, "method": method, "lam": float(lam), **extra})
    request = {"points": points, "epsilons": list(epsilons), "sweep_epsilons": list(sweep_epsilons),
               "sweep_dtypes": list(sweep_dtypes), "dtype": dtype, "lam": lam}
    folder, cached = _measurement_folder(config, preset, request, output_root, reuse_only, verbose)
    if cached is not None:
        return cached

    torch_device = resolve_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    watcher = _Watcher(config, request, torch_device, verbose)
    result = run_search(config, folder, progress=False, observe=watcher)
    if not result.completed:
        raise RuntimeError(f"the search in {folder} did not finish")
    write_json(folder / "gradient_error.json", {"request": request, "config": config.to_dict(),
                                                 "trajectory": watcher.trajectory, "sweep": watcher.sweep,
                                                 "measure_s": time.perf_counter() - watcher.start})
    return {"trajectory": pd.DataFrame(watcher.trajectory), "sweep": pd.DataFrame(watcher.sweep),
            "record": result.record, "config": config.to_dict(), "run_dir": str(folder)}


class _Watcher:
    """Watches a search (``run_search(observe=...)``) and measures at its stops."""

    def __init__(self, config: SearchConfig, request: dict, device: torch.device, verbose: bool) -> None:
        self.config, self.request, self.device, self.verbose = config, request, device, verbose
        self.batch, self.steps_per_epoch, self.num_classes = measurement_batch(config, DTYPES[request["dtype"]], device)
        self.total = self.steps_per_epoch * config.epochs
        points = request["points"]
        self.stops = sorted({round(i * self.total / (points - 1)) for i in range(points)})
        self.trajectory: list[dict] = []
        self.sweep: list[dict] = []
        self.start = time.perf_counter()
        if self.stops[0] == 0:
            self.measure(0, None)  # the initial state: the search's seeded initialisation

    def __call__(self, search: Search, event: Event) -> None:
        if isinstance(event, StepEvent):
            done = event.epoch * self.steps_per_epoch + event.step + 1
            if done in self.stops and done < self.total:
                self.measure(done, self.live_state(search))
        elif event.completed:  # the end: after the last epoch's close, as the finished run holds it
            final = self.live_state(search)
            self.measure(self.total, final)
            self.measure_sweep(final)

    @staticmethod
    def live_state(search: Search) -> dict:
        """Copies of the search's weights, α and w optimizer now."""
        return copy.deepcopy({"model": search.model.state_dict(), "w_optimizer": search.ctx.w_optimizer.state_dict()})

    def measure(self, done: int, state: Optional[dict]) -> None:
        with torch.random.fork_rng(devices=[]):  # the search's own random streams stay untouched
            ctx = search_state(self.config, state, self.num_classes, DTYPES[self.request["dtype"]], self.device)
            for row in measure_gradients(ctx, self.batch, self.request["lam"], self.request["epsilons"]):
                self.trajectory.append({"step": done, "epoch": done / self.steps_per_epoch, **row})
        if self.verbose:
            print(f"step {done:5d}/{self.total}: measured ({time.perf_counter() - self.start:.0f} s so far)")

    def measure_sweep(self, final: dict) -> None:
        for name in self.request["sweep_dtypes"]:
            sweep_batch = tuple(t.to(DTYPES[name]) if t.is_floating_point() else t for t in self.batch)
            # Below ~1e-6 a float32 difference is round-off only: not worth the time.
            usable = [e for e in self.request["sweep_epsilons"] if name == "float64" or e >= 1e-6]
            with torch.random.fork_rng(devices=[]):
                ctx = search_state(self.config, final, self.num_classes, DTYPES[name], self.device)
                for row in measure_gradients(ctx, sweep_batch, self.request["lam"], usable):
                    self.sweep.append({"dtype": name, "step": self.total, **row})
        if self.verbose:
            print(f"epsilon sweep at the last state done ({time.perf_counter() - self.start:.0f} s)")
