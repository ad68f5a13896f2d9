"""The experiments the notebooks run: each a function that returns its result.

Notebooks stay thin (a ``parameters`` cell, then calls into this module and
:mod:`milenas_lib.plots`); everything that loops, trains, measures or writes
files lives here, where it is tested.

Search runs are shared between notebooks through one run store,
``results/runs/<preset>/<setting>/seed<S>-<config hash>/``: the figures 2, 3
and 6 read the same runs, and a completed run is read back instead of being
trained again.  The hash covers every setting that changes the result
(not device, threads or data path), so a changed preset never silently
reuses old runs.

Every table a notebook saves gets a ``<name>.meta.json`` beside it with its
provenance (code version, libraries, machine, data source, configs, seeds,
the runs it was computed from); every figure and table is listed in
``results/<notebook>/manifest.json``, from which the runner builds the index
``results/README.md``.
"""
from __future__ import annotations

import ast
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import pandas as pd
import torch

from .config import SearchConfig, search_config
from .records.io import load_checkpoint, read_json, write_json
from .records.provenance import REPO_ROOT, provenance, resolve_device
from .space.genotype import GENOTYPES

# ---------------------------------------------------------------------------
# Parameters as papermill passes them.

#: Seeds a notebook uses when its ``seeds`` parameter is None.  The paper ran
#: every setting 4 times; the CPU preset runs once to stay within minutes.
DEFAULT_SEEDS: dict[str, list[int]] = {"paper": [0, 1, 2, 3], "smoke": [0]}


def _literal(value: Any) -> Any:
    """``papermill -p seeds '[0,1]'`` passes the text ``"[0,1]"``: read it as a literal."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
    return value


def resolve_seeds(seeds: Any, preset: str) -> list[int]:
    """``seeds`` as a list of ints: None gives the preset's default; a list, an
    int, or text such as ``"[0,1,2,3]"`` or ``"0,1"`` are accepted."""
    seeds = _literal(seeds)
    if seeds is None:
        if preset not in DEFAULT_SEEDS:
            raise ValueError(f"no default seeds for preset {preset!r}; pass seeds explicitly")
        return list(DEFAULT_SEEDS[preset])
    if isinstance(seeds, str):
        seeds = [part for part in seeds.replace(",", " ").split() if part]
    if isinstance(seeds, (int, float)):
        seeds = [seeds]
    try:
        resolved = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ValueError(f"seeds must be a list of integers such as [0, 1, 2, 3], got {seeds!r}") from None
    if not resolved:
        raise ValueError("seeds is empty; give at least one seed")
    return resolved


def resolve_settings(settings: Any) -> list:
    """Setting keys as a list, also from papermill text such as ``"['gdas', 'milenas_lam1']"`` or ``"gdas, darts_2nd"``."""
    settings = _literal(settings)
    if isinstance(settings, str):
        settings = [part.strip("'\" ") for part in settings.replace(",", " ").split() if part.strip("'\" ")]
    if isinstance(settings, (Setting, str)):
        settings = [settings]
    return list(settings)


def resolve_overrides(overrides: Any) -> dict:
    """A settings mapping (``search_overrides``/``train_overrides``), also from JSON text."""
    overrides = _literal(overrides)
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be a mapping such as {{'epochs': 3}}, got {overrides!r}")
    return dict(overrides)


# ---------------------------------------------------------------------------
# Where things go.

def resolve_root(output_root: Optional[str | Path] = None) -> Path:
    """The folder that holds ``results/`` and ``figures/``: ``output_root``, else
    the kit's checkout (so paths do not depend on the notebook's working directory)."""
    if output_root not in (None, ""):
        return Path(output_root).expanduser().resolve()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT
    return Path.cwd().resolve()


def runs_root(output_root: Optional[str | Path] = None) -> Path:
    return resolve_root(output_root) / "results" / "runs"


# ---------------------------------------------------------------------------
# Named search settings (the curves of the paper's figures).

@dataclass(frozen=True)
class Setting:
    """One curve of a figure: a file-safe key, a legend label, config overrides."""

    key: str
    label: str
    overrides: dict = field(default_factory=dict)
    color: str = "black"
    marker: str = "o"
    linestyle: str = "-"


# Okabe-Ito colours (colour-blind safe) plus distinct markers and dashes, so
# curves stay apart in grey-scale print.
SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("single_level", "single-level (λ = 0)", {"method": "single_level"}, "#D55E00", "v", "-"),
    Setting("milenas_lam0.1", "MiLeNAS λ = 0.1", {"method": "milenas", "lam": 0.1}, "#E69F00", "s", "--"),
    Setting("milenas_lam1", "MiLeNAS λ = 1", {"method": "milenas", "lam": 1.0}, "#009E73", "o", "-"),
    Setting("milenas_lam999", "MiLeNAS λ = 999", {"method": "milenas", "lam": 999.0}, "#56B4E9", "D", "-."),
    Setting("darts_2nd", "bilevel (2nd-order DARTS)", {"method": "darts_2nd"}, "#0072B2", "^", ":"),
    Setting("switch", "bilevel, then MiLeNAS λ = 1", {"method": "switch", "lam": 1.0}, "#CC79A7", "P", "--"),
    Setting("darts_1st", "1st-order DARTS", {"method": "darts_1st"}, "#999999", "x", ":"),
    Setting("gdas", "GDAS (bilevel, Gumbel)", {"method": "gdas"}, "#0072B2", "^", ":"),
    Setting("milenas_gumbel", "MiLeNAS (Gumbel) λ = 1", {"method": "milenas_gumbel", "lam": 1.0},
            "#009E73", "o", "-"),
)}

#: The settings of each figure (GUIDE §8).
FIG2_SETTINGS = ["single_level", "milenas_lam0.1", "milenas_lam1", "milenas_lam999", "darts_2nd"]
FIG3_SETTINGS = FIG2_SETTINGS + ["switch"]
FIG5_SETTINGS = ["gdas", "milenas_gumbel"]


def setting(key: str | Setting) -> Setting:
    if isinstance(key, Setting):
        return key
    if key not in SETTINGS:
        raise KeyError(f"unknown setting {key!r}; known settings are: {', '.join(SETTINGS)}")
    return SETTINGS[key]


def milenas_setting(lam: float) -> Setting:
    """The MiLeNAS setting for ``lam`` (a registered one when it exists)."""
    for spec in SETTINGS.values():
        if spec.overrides == {"method": "milenas", "lam": float(lam)}:
            return spec
    return Setting(f"milenas_lam{lam:g}", f"MiLeNAS λ = {lam:g}", {"method": "milenas", "lam": float(lam)},
                   "#009E73", "o", "-")


def records_of(records: Sequence[dict], key: str) -> list[dict]:
    """The records of one setting."""
    return [r for r in records if r.get("setting") == key]


def final_genotype(record: dict):
    """The genotype a search derived at its end."""
    return _genotype(record["genotype"])


def run_genotypes(records: Sequence[dict]) -> dict:
    """``{"<label>, seed <s>": genotype}`` for a genotype table."""
    return {f"{r.get('label', r['method'])}, seed {r['seed']}": final_genotype(r) for r in records}


def _identity(config: SearchConfig) -> dict:
    from .loops.search import _config_identity  # the same identity the checkpoints are checked against

    return _config_identity(config)


def config_hash(config: SearchConfig) -> str:
    text = json.dumps(_identity(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def make_search_config(key: str | Setting, seed: int, preset: str, overrides: Optional[Mapping] = None,
                       device: str = "auto", data_root: Optional[str] = None) -> SearchConfig:
    """The config of one run of a setting: the preset, the setting's method/λ, then ``overrides``."""
    spec = setting(key)
    extra: dict[str, Any] = {"device": device, "seed": int(seed)}
    if data_root:
        extra["data_root"] = str(data_root)
    return search_config(preset, **{**spec.overrides, **resolve_overrides(overrides), **extra})


def run_dir(key: str | Setting, config: SearchConfig, preset: str, root: Path) -> Path:
    return Path(root) / preset / setting(key).key / f"seed{config.seed}-{config_hash(config)}"


def _stored_record(path: Path) -> Optional[dict]:
    record_path = path / "record.json"
    if not record_path.exists():
        return None
    record = read_json(record_path)
    return record if record.get("completed") else None


def _records_from_store(jobs: Sequence[tuple[Path, str, Callable[[], dict]]], kind: str, reuse_only: bool,
                        verbose: bool) -> list[dict]:
    """For each ``(folder, description, run)``: the finished record stored in
    ``folder`` (read once), else ``run()``'s.  With ``reuse_only`` nothing is
    run: missing runs are listed in the error instead."""
    stored = [_stored_record(folder) for folder, _, _ in jobs]
    missing = [folder for (folder, _, _), record in zip(jobs, stored) if record is None]
    if reuse_only and missing:
        listed = "\n  ".join(map(str, missing))
        raise FileNotFoundError(f"reuse_only=True but {len(missing)} {kind} run(s) are not in the store:\n  "
                                f"{listed}\nrun the notebook with reuse_only=False to train them")
    records = []
    for (folder, description, run), record in zip(jobs, stored):
        if record is None:
            start = time.perf_counter()
            record = run()
            if verbose:
                print(f"ran    {description}: {time.perf_counter() - start:6.1f} s -> {folder}")
        elif verbose:
            print(f"stored {description}: {record['time_s']:6.1f} s {kind} time, {folder}")
        records.append(record)
    return records


def search_runs(settings: Sequence[str | Setting], seeds: Any, preset: str, *,
                root: Optional[str | Path] = None, output_root: Optional[str | Path] = None,
                overrides: Any = None, device: str = "auto", data_root: Optional[str] = None,
                reuse_only: bool = False, progress: bool = False, verbose: bool = True) -> list[dict]:
    """One search per (setting, seed); completed runs in the store are read back, a
    partial one resumes, a missing one is trained (unless ``reuse_only``).

    Returns the records (``loops.search`` format) with ``setting``, ``label``,
    ``preset`` and ``run_dir`` added.
    """
    from .loops.search import run_search

    store = Path(root) if root is not None else runs_root(output_root)
    seeds = resolve_seeds(seeds, preset)
    overrides = resolve_overrides(overrides)
    plan = [(setting(key), seed) for key in resolve_settings(settings) for seed in seeds]
    configs = [make_search_config(spec, seed, preset, overrides, device, data_root) for spec, seed in plan]
    dirs = [run_dir(spec, config, preset, store) for (spec, _), config in zip(plan, configs)]
    jobs = [(path, f"search {spec.key:15s} seed {seed}",
             lambda config=config, path=path: run_search(config, path, progress=progress).record)
            for (spec, seed), config, path in zip(plan, configs, dirs)]
    records = _records_from_store(jobs, "search", reuse_only, verbose)
    return [{**record, "setting": spec.key, "label": spec.label, "preset": preset, "run_dir": str(path)}
            for record, (spec, _), path in zip(records, plan, dirs)]


# ---------------------------------------------------------------------------
# Records as tidy tables.

def records_frame(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (run, epoch): accuracies in %, the gap in percentage points,
    losses, the derived cell's conv counts and size, time split, λ, seed.
    ``epoch`` counts completed epochs (1 = after the first)."""
    rows = []
    for record in records:
        for entry in record["epochs"]:
            rows.append({
                "setting": record.get("setting", record["method"]), "label": record.get("label", record["method"]),
                "method": record["method"], "lam": record["lam"], "seed": record["seed"],
                "epoch": entry["epoch"] + 1,
                "train_acc": 100 * entry["train_acc"], "val_acc": 100 * entry["val_acc"],
                "gap": 100 * entry["gap"], "train_loss": entry["train_loss"], "val_loss": entry["val_loss"],
                "convs_normal": entry["convs"][0], "convs_reduce": entry["convs"][1], "params_M": entry["params"] / 1e6,
                "skip_connects": entry["skip_connects"], "entropy_normal": entry["entropy"]["normal"],
                "entropy_reduce": entry["entropy"]["reduce"], "w_lr": entry["w_lr"],
                "alpha_step_s": entry["alpha_step_s"], "w_step_s": entry["w_step_s"], "eval_s": entry["eval_s"],
                "phase": entry.get("phase", record["method"]), "tau": entry.get("tau"),
                "genotype": entry["genotype_text"],
            })
    return pd.DataFrame(rows)


def smooth(frame: pd.DataFrame, column: str, window: int, by: Sequence[str] = ("setting", "seed")) -> pd.DataFrame:
    """A copy with ``column`` replaced by its trailing moving average over
    ``window`` epochs within each run (the paper smooths Fig. 2)."""
    frame = frame.sort_values([*by, "epoch"]).copy()
    if window > 1:
        frame[column] = frame.groupby(list(by))[column].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return frame


def mean_std(frame: pd.DataFrame, value: str, by: Sequence[str] = ("setting", "epoch")) -> pd.DataFrame:
    """``mean``, ``std`` (0 for a single run) and ``n`` of ``value`` per group, in the settings' order."""
    grouped = frame.groupby(list(by), sort=False)[value]
    out = grouped.agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "n"})
    out["std"] = out["std"].fillna(0.0)
    out.insert(len(by), "value", value)
    return out


def final_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last epoch."""
    last = frame.groupby(["setting", "seed"])["epoch"].transform("max")
    return frame[frame["epoch"] == last]


def search_time_frame(records: Iterable[dict]) -> pd.DataFrame:
    """One row per run: wall time of the search and its split into α step,
    w step and evaluation, steps, passes per step, seconds per step."""
    rows = []
    for record in records:
        epochs = record["epochs"]
        alpha_s = sum(e["alpha_step_s"] for e in epochs)
        w_s = sum(e["w_step_s"] for e in epochs)
        eval_s = sum(e["eval_s"] for e in epochs)
        steps = record["steps_per_epoch"] * len(epochs)
        rows.append({
            "setting": record.get("setting", record["method"]), "label": record.get("label", record["method"]),
            "method": record["method"], "lam": record["lam"], "seed": record["seed"],
            "time_s": record["time_s"], "alpha_step_s": alpha_s, "w_step_s": w_s, "eval_s": eval_s,
            "other_s": max(record["time_s"] - alpha_s - w_s - eval_s, 0.0),
            "steps": steps, "passes_per_step": record["passes_per_step"],
            "s_per_step": (alpha_s + w_s) / max(steps, 1),
            "gpu_hours": record.get("gpu_hours"), "device": record.get("device_name"),
        })
    return pd.DataFrame(rows)


def time_ratio(times: pd.DataFrame, slow: str = "darts_2nd", fast: str = "milenas_lam1",
               column: str = "time_s") -> Optional[float]:
    """Mean search time of ``slow`` over that of ``fast`` (Fig. 3b's "3x faster")."""
    means = times.groupby("setting")[column].mean()
    if slow not in means or fast not in means or means[fast] <= 0:
        return None
    return float(means[slow] / means[fast])


def bucket_frame(records: Iterable[dict]) -> pd.DataFrame:
    """Model-size buckets (Fig. 6): per run, the best search-val accuracy of
    each conv-count bucket ``(normal, reduce)`` and each parameter range."""
    rows = []
    for record in records:
        for table in ("convs", "params"):
            for key, entry in record["buckets"][table].items():
                rows.append({
                    "setting": record.get("setting", record["method"]),
                    "label": record.get("label", record["method"]), "seed": record["seed"], "table": table,
                    "bucket": key, "val_acc": 100 * entry["val_acc"], "epoch": entry["epoch"] + 1,
                    "convs_normal": entry["convs"][0], "convs_reduce": entry["convs"][1],
                    "params_M": entry["params"] / 1e6,
                    "genotype": str(_genotype(entry["genotype"])),
                })
    return pd.DataFrame(rows)


def best_per_bucket(buckets: pd.DataFrame, table: str, by: Sequence[str] = ("setting",)) -> pd.DataFrame:
    """The best entry of each bucket over all runs (and seeds) of each group."""
    part = buckets[buckets["table"] == table]
    if part.empty:
        return part
    index = part.groupby([*by, "bucket"])["val_acc"].idxmax()
    return part.loc[index].sort_values([*by, "params_M"]).reset_index(drop=True)


def _genotype(data: Mapping):
    from .space.genotype import Genotype

    return Genotype.from_dict(data)


def best_run(records: Sequence[dict]) -> dict:
    """The run with the highest final search-val accuracy (how the paper picks
    the architecture to evaluate, §3.1)."""
    return max(records, key=lambda r: r["epochs"][-1]["val_acc"])


# ---------------------------------------------------------------------------
# The paper's claims, checked on our numbers.

def _claim(claim: str, holds: Optional[bool], evidence: str, n: int) -> dict:
    verdict = "n/a" if holds is None else ("yes" if holds else "no")
    return {"paper's claim": claim, "holds here": verdict, "evidence (ours)": evidence, "n seeds": n}


def fig2_claims(epochs: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2's ordering claims on the final-epoch gap (mean over seeds)."""
    final = final_epoch(epochs).groupby("setting")["gap"].agg(["mean", "count"])
    n = int(final["count"].min()) if len(final) else 0
    gap = final["mean"].to_dict()
    rows = []
    if gap:
        largest, smallest = max(gap, key=gap.get), min(gap, key=gap.get)
        listing = ", ".join(f"{SETTINGS[k].label}: {v:+.1f}" for k, v in gap.items())
        rows.append(_claim("single-level has the largest train-val gap", largest == "single_level",
                           f"largest: {SETTINGS[largest].label} (gaps in pp: {listing})", n))
        rows.append(_claim("bilevel (2nd-order DARTS) has the smallest gap", smallest == "darts_2nd",
                           f"smallest: {SETTINGS[smallest].label}", n))
    lams = [k for k in ("milenas_lam0.1", "milenas_lam1", "milenas_lam999") if k in gap]
    if len(lams) == 3:
        ordered = gap[lams[0]] >= gap[lams[1]] >= gap[lams[2]]
        rows.append(_claim("MiLeNAS gap shrinks as λ grows (0.1 > 1 > 999)", ordered,
                           " ≥ ".join(f"{gap[k]:+.1f}" for k in lams) + " pp", n))
    return pd.DataFrame(rows)


def fig3_claims(epochs: pd.DataFrame, times: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3's claims on the final search-val accuracy and the search time."""
    final = final_epoch(epochs).groupby("setting")["val_acc"].agg(["mean", "std", "count"])
    n = int(final["count"].min()) if len(final) else 0
    acc, std = final["mean"].to_dict(), final["std"].fillna(0).to_dict()
    rows = []
    if acc:
        lowest = min(acc, key=acc.get)
        rows.append(_claim("single-level reaches the lowest search-val accuracy", lowest == "single_level",
                           f"lowest: {SETTINGS[lowest].label} ({acc[lowest]:.1f}%)", n))
    if "darts_2nd" in acc:
        for key in ("milenas_lam1", "milenas_lam0.1"):
            if key in acc:
                rows.append(_claim(f"{SETTINGS[key].label} above bilevel", acc[key] > acc["darts_2nd"],
                                   f"{acc[key]:.1f}% vs {acc['darts_2nd']:.1f}%", n))
        if "milenas_lam999" in acc:
            spread = max(std.get("milenas_lam999", 0), std.get("darts_2nd", 0), 1.0)
            close = abs(acc["milenas_lam999"] - acc["darts_2nd"]) <= spread
            rows.append(_claim("MiLeNAS λ = 999 close to bilevel", close,
                               f"{acc['milenas_lam999']:.1f}% vs {acc['darts_2nd']:.1f}% "
                               f"(close: within max(std, 1 pp) = {spread:.1f} pp)", n))
        if "switch" in acc:
            rows.append(_claim("switching to MiLeNAS beats staying bilevel", acc["switch"] > acc["darts_2nd"],
                               f"{acc['switch']:.1f}% vs {acc['darts_2nd']:.1f}%", n))
    ratio = time_ratio(times)
    if ratio is not None:
        rows.append(_claim("MiLeNAS more than 3x faster than 2nd-order DARTS", ratio > 3,
                           f"2nd-order DARTS / MiLeNAS λ = 1 search time: {ratio:.2f}x", n))
    return pd.DataFrame(rows)


def fig5_claims(epochs: pd.DataFrame) -> pd.DataFrame:
    final = final_epoch(epochs).groupby("setting")["val_acc"].agg(["mean", "count"])
    if not {"gdas", "milenas_gumbel"} <= set(final.index):
        return pd.DataFrame()
    acc = final["mean"]
    return pd.DataFrame([_claim("MiLeNAS (Gumbel) reaches a higher search-val accuracy than GDAS "
                                "(paper: 69.56% vs 65.79%)", acc["milenas_gumbel"] > acc["gdas"],
                                f"{acc['milenas_gumbel']:.1f}% vs {acc['gdas']:.1f}%",
                                int(final["count"].min()))])


#: Values the paper reports, drawn beside ours and marked as quoted (GUIDE §5, §8).
PAPER_FIG5 = {"gdas": 65.79, "milenas_gumbel": 69.56}          # search-val accuracy, %
PAPER_FIG5_ERRORS = {"gdas": 2.82, "milenas_gumbel": 2.57}     # evaluated CIFAR-10 test error, %
#: Table 1's MiLeNAS rows: (genotype, params M, test error %): Fig. 6's points are these architectures.
PAPER_MILENAS_ARCHS = [("MILENAS_2_76", 2.09, 2.76), ("MILENAS_2_50", 2.86, 2.50),
                       ("MILENAS_2_80", 2.87, 2.80), ("MILENAS_2_34", 3.87, 2.34)]
PAPER_BEST_RANGE_M = (3.5, 4.5)


# ---------------------------------------------------------------------------
# Describing where numbers come from (figure titles, index, provenance).

_SOURCE_NAMES = {"torchvision-cifar10": "CIFAR-10", "cifar10-jpeg-archive": "CIFAR-10 (JPEG copy)",
                 "synthetic": "synthetic stand-in (NOT CIFAR-10)"}


def data_label(record: dict) -> str:
    """A short data description for titles, e.g. 'CIFAR-10 (JPEG copy), 8 img/class per half'."""
    source = (record.get("data_source") or {}).get("source", "unknown data")
    name = _SOURCE_NAMES.get(source, source)
    per_class = record["config"].get("per_class")
    return f"{name}, {per_class} img/class per half" if per_class else f"{name}, 25k/25k split"


def setup_label(record: dict, preset: Optional[str] = None) -> str:
    """'preset smoke: C=4, 5 cells, batch 8, 2 epochs' from a record's config."""
    c = record["config"]
    preset = preset or record.get("preset", "?")
    return f"preset {preset}: C={c['C']}, {c['layers']} cells, batch {c['batch_size']}, {c['epochs']} epochs"


def n_label(records: Sequence[dict]) -> str:
    counts = pd.Series([r.get("setting", r["method"]) for r in records]).value_counts()
    if counts.empty:
        return "n = 0"
    low, high = int(counts.min()), int(counts.max())
    return f"n = {low} seed{'s' if low > 1 else ''} per setting" if low == high else f"n = {low}-{high} seeds"


def figure_detail(records: Sequence[dict], preset: Optional[str] = None) -> str:
    """The second title line of a figure: preset and sizes, data, n."""
    if not records:
        return ""
    return f"{setup_label(records[0], preset)} · {data_label(records[0])} · {n_label(records)}"


def final_table(epochs: pd.DataFrame, values: Sequence[str] = ("train_acc", "val_acc", "gap")) -> pd.DataFrame:
    """Last-epoch values per setting as 'mean ± std' text with n, in the settings' order."""
    final = final_epoch(epochs)
    rows = []
    for key in dict.fromkeys(final["setting"]):
        part = final[final["setting"] == key]
        row = {"setting": SETTINGS[key].label if key in SETTINGS else key, "n": len(part)}
        for value in values:
            mean, std = part[value].mean(), part[value].std()
            row[value] = f"{mean:.2f}" + (f" ± {std:.2f}" if len(part) > 1 else "")
        rows.append(row)
    return pd.DataFrame(rows)


def switch_epoch(records: Sequence[dict]) -> Optional[int]:
    """The epoch after which the ``switch`` runs changed to MiLeNAS."""
    for record in records:
        if record["method"] == "switch":
            return int(record["config"]["switch_epoch"])
    return None


def smoothing_window(preset: str, window: Optional[int] = None) -> int:
    """Fig. 2 is smoothed in the paper; 5 epochs for the paper preset, none for short runs."""
    return int(window) if window else (5 if preset == "paper" else 1)


def genotype_table(genotypes: Mapping[str, Any]) -> pd.DataFrame:
    """Name, text, conv counts and CIFAR-10 / ImageNet network size of each genotype."""
    from .networks import genotype_info
    from .space.genotype import resolve_genotype

    rows = []
    for name, genotype in genotypes.items():
        info = genotype_info(resolve_genotype(genotype))
        rows.append({"genotype": name, "convs (normal, reduce)": tuple(info["convs"]),
                     "CIFAR-10 params (M)": round(info["cifar10"]["params"] / 1e6, 3),
                     "ImageNet params (M)": round(info["imagenet"]["params"] / 1e6, 3),
                     "ImageNet mult-adds (M)": round(info["imagenet"]["mult_adds"] / 1e6),
                     "cells": info["text"]})
    return pd.DataFrame(rows)


def supernet_summary(presets: Sequence[str] = ("paper", "smoke")) -> pd.DataFrame:
    """Size of the search supernet of each preset: weights w and architecture values α."""
    from .space.supernet import Supernet

    rows = []
    for preset in presets:
        config = search_config(preset)
        with torch.device("meta"):
            model = Supernet(config.C, config.layers)
        rows.append({"preset": preset, "C": config.C, "cells": config.layers,
                     "weights w": sum(p.numel() for p in model.weights()),
                     "α values": sum(a.numel() for a in model.alphas()), "batch": config.batch_size,
                     "epochs": config.epochs,
                     "search images per half": "25,000" if config.per_class is None else f"{10 * config.per_class}"})
    return pd.DataFrame(rows)


def records_provenance(records: Sequence[dict], device: str = "auto") -> dict:
    """Provenance of a table computed from search records: this process's
    (code, libraries, machine) plus each run's own (its commit, data, time)."""
    data = records[0].get("data_source") if records else None
    runs = [{key: r.get(key) for key in ("setting", "method", "lam", "seed", "run_dir", "git_commit", "created",
                                         "device_name", "data_source", "time_s")} for r in records]
    configs = {}
    for r in records:
        configs.setdefault(r.get("setting", r["method"]), {k: v for k, v in r["config"].items() if k != "seed"})
    return {**provenance(resolve_device(device), data),
            "seeds": sorted({r["seed"] for r in records}), "search_configs": configs, "runs": runs}


# ---------------------------------------------------------------------------
# A notebook's outputs: figures, tables, and the manifest the index is built from.

class NotebookOutputs:
    """Saves a notebook's figures (PNG + PDF in ``figures/``) and tables (CSV
    with a ``.meta.json`` provenance file in ``results/<notebook>/`` or
    ``results/tables/``) and lists each in ``results/<notebook>/manifest.json``."""

    def __init__(self, notebook: str, preset: str, output_root: Optional[str | Path] = None,
                 parameters: Optional[dict] = None):
        self.notebook, self.preset = notebook, preset
        self.root = resolve_root(output_root)
        self.results = self.root / "results" / notebook
        self.figures = self.root / "figures"
        self.tables = self.root / "results" / "tables"
        self.runs = self.root / "results" / "runs"
        self.manifest_path = self.results / "manifest.json"
        self.manifest = {"notebook": notebook, "preset": preset, "parameters": parameters or {},
                         "started": time.strftime("%Y-%m-%d %H:%M:%S"), "artifacts": []}
        self.results.mkdir(parents=True, exist_ok=True)
        write_json(self.manifest_path, self.manifest)

    def _register(self, kind: str, name: str, paths: list[Path], caption: str, data_source: str,
                  n: Optional[str]) -> None:
        entries = [a for a in self.manifest["artifacts"] if a["name"] != name or a["kind"] != kind]
        entries.append({"kind": kind, "name": name, "paths": [str(p.relative_to(self.root)) for p in paths],
                        "caption": caption, "data_source": data_source, "n": n, "preset": self.preset,
                        "notebook": self.notebook})
        self.manifest["artifacts"] = entries
        write_json(self.manifest_path, self.manifest)

    def _describe(self, records: Optional[Sequence[dict]], data_source: Optional[str], n: Optional[str]
                  ) -> tuple[str, Optional[str]]:
        if records:
            return data_source or data_label(records[0]), n or n_label(records)
        return data_source or "none (no data)", n

    def save_figure(self, fig, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                    data_source: Optional[str] = None, n: Optional[str] = None, dpi: int = 200) -> list[Path]:
        """``figures/<name>.png`` and ``.pdf``; data source and n come from
        ``records`` unless given.  Returns both paths."""
        self.figures.mkdir(parents=True, exist_ok=True)
        paths = [self.figures / f"{name}.png", self.figures / f"{name}.pdf"]
        fig.savefig(paths[0], dpi=dpi, bbox_inches="tight")
        fig.savefig(paths[1], bbox_inches="tight")
        self._register("figure", name, paths, caption, *self._describe(records, data_source, n))
        return paths

    def save_table(self, frame: pd.DataFrame, name: str, caption: str, records: Optional[Sequence[dict]] = None,
                   data_source: Optional[str] = None, n: Optional[str] = None,
                   provenance_info: Optional[dict] = None, paper_table: bool = False, device: str = "auto",
                   **meta: Any) -> Path:
        """``<name>.csv`` (in ``results/tables/`` for the paper's tables, else in
        ``results/<notebook>/``) and ``<name>.meta.json`` with its provenance
        (from ``records`` when given)."""
        data_source, n = self._describe(records, data_source, n)
        if provenance_info is None:
            provenance_info = records_provenance(records, device) if records else provenance(resolve_device(device))
        folder = self.tables if paper_table else self.results
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        meta_path = folder / f"{name}.meta.json"
        write_json(meta_path, {"table": name, "caption": caption, "notebook": self.notebook, "preset": self.preset,
                               "data_source": data_source, "n": n, "columns": list(frame.columns),
                               "provenance": provenance_info, **meta})
        self._register("table", name, [path, meta_path], caption, data_source, n)
        return path


def notebook_outputs(notebook: str, preset: str, output_root: Optional[str | Path] = None,
                     **parameters: Any) -> NotebookOutputs:
    """Start a notebook's outputs (its manifest is reset: a rerun lists only what it wrote)."""
    return NotebookOutputs(notebook, preset, output_root, parameters)


# ---------------------------------------------------------------------------
# Notebook 8: how wrong is DARTS' finite-difference hypergradient?

def _measurement_batch(config: SearchConfig, dtype: torch.dtype, device: torch.device) -> tuple:
    """A fixed paired batch (the first of epoch 0), so that changes along the
    trajectory come from the search state, not from the batch."""
    from .data import make_search_data
    from .loops.search import _image_set

    image_set = _image_set(config)
    data = make_search_data(image_set, config.batch_size, config.seed, device, per_class=config.per_class)
    x_tr, y_tr, x_val, y_val = next(iter(data.paired.epoch(0)))
    return (x_tr.to(dtype), y_tr, x_val.to(dtype), y_val), len(data.paired), len(image_set.classes)


def _search_state(config: SearchConfig, checkpoint: Optional[dict], num_classes: int, dtype: torch.dtype,
                  device: torch.device):
    """The supernet and w optimizer of a checkpoint (or of a fresh start), in ``dtype``."""
    from .algorithms import SearchContext
    from .space.supernet import Supernet

    torch.manual_seed(config.seed)
    model = Supernet(config.C, config.layers, num_classes=num_classes).to(device=device, dtype=dtype)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
    w_optimizer = torch.optim.SGD(model.weights(), config.w_lr, momentum=config.w_momentum,
                                  weight_decay=config.w_weight_decay)
    if checkpoint is not None:
        w_optimizer.load_state_dict(checkpoint["w_optimizer"])  # momentum buffers, cast to dtype
    alpha_optimizer = torch.optim.Adam(model.alphas(), config.alpha_lr)
    model.train()  # the search measures gradients with batch statistics
    xi = w_optimizer.param_groups[0]["lr"]
    return SearchContext(model, w_optimizer, alpha_optimizer, config.grad_clip, lr=xi), xi


def _agreements(prefix: str, estimate, reference) -> dict:
    from .algorithms import gradient_agreement

    return {f"{prefix}_{k}": v for k, v in gradient_agreement(estimate, reference).items()}


def measure_gradients(ctx, batch: tuple, xi: float, lam: float, epsilons: Sequence[float]) -> list[dict]:
    """At one search state: the exact one-step hypergradient (double backward),
    DARTS' finite-difference estimate at each ε, and the first-order α
    directions (single-level, 1st-order DARTS, MiLeNAS), compared with it."""
    from .algorithms import darts_hypergradient, exact_hypergradient, mixed_level_gradient
    from .algorithms.base import alpha_gradient

    x_tr, y_tr, x_val, y_val = batch
    exact = exact_hypergradient(ctx, x_tr, y_tr, x_val, y_val, xi)
    norm = lambda ts: float(torch.sqrt(sum((t.double() ** 2).sum() for t in ts)))  # noqa: E731
    common = {"xi": xi, "direct_norm": norm(exact.direct), "second_order_norm": xi * norm(exact.second_order),
              "exact_norm": norm(exact.total)}
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


#: ε of notebook 8's panel (c): DARTS' 0.01 down to where float64 round-off takes over.
SWEEP_EPSILONS: tuple[float, ...] = tuple(10.0 ** -k for k in range(1, 11))


def sweep_epsilons(values: Any = None) -> tuple[float, ...]:
    values = _literal(values)
    return SWEEP_EPSILONS if values is None else tuple(float(v) for v in values)


def _setting_for(method: str, lam: float) -> Setting:
    for spec in SETTINGS.values():
        if spec.overrides.get("method") == method and spec.overrides.get("lam", lam) == float(lam):
            return spec
    return milenas_setting(lam) if method == "milenas" else setting(method)


def _cached_measurements(folder: Path, request: dict) -> Optional[dict]:
    cache = folder / "gradient_error.json"
    if not cache.exists():
        return None
    stored = read_json(cache)
    if stored.get("request") != request:
        return None
    return {"trajectory": pd.DataFrame(stored["trajectory"]), "sweep": pd.DataFrame(stored["sweep"]),
            "record": read_json(folder / "record.json"), "config": stored["config"], "run_dir": str(folder)}


def trajectory_points(preset: str, points: Optional[int] = None) -> int:
    """Measured states along the search: every 5 epochs of the paper's 50 (11),
    every epoch of the smoke preset's 2 (3)."""
    return int(points) if points else (11 if preset == "paper" else 3)


def trajectory_summary(trajectory: pd.DataFrame) -> pd.DataFrame:
    """The columns of the trajectory worth reading, one row per state and ε."""
    columns = ["step", "epoch", "epsilon", "xi", "second_order_relative_error", "total_relative_error",
               "total_cosine", "darts_1st_cosine", "milenas_cosine", "single_level_cosine"]
    frame = trajectory[columns].copy()
    frame.insert(4, "ξ‖g₂‖ / ‖g₁‖", trajectory["second_order_norm"] / trajectory["direct_norm"])
    return frame


_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def gradient_error_trajectory(preset: str, *, method: str = "darts_2nd", lam: float = 1.0, seed: int = 0,
                              points: int = 5, epsilons: Sequence[float] = (1e-2, 1e-8),
                              sweep_epsilons: Sequence[float] = SWEEP_EPSILONS,
                              sweep_dtypes: Sequence[str] = ("float64", "float32"), dtype: str = "float64",
                              overrides: Any = None, device: str = "auto", data_root: Optional[str] = None,
                              output_root: Optional[str | Path] = None, reuse_only: bool = False,
                              verbose: bool = True) -> dict:
    """Measure DARTS' hypergradient error along one search.

    The search (``method``, run in its own folder of the run store) is stopped
    at ``points`` evenly spaced steps, start and end included; at each stop the
    state is read from the checkpoint, cast to ``dtype``, and
    :func:`measure_gradients` compares, on one fixed batch, the finite
    difference at each of ``epsilons`` (DARTS uses 0.01) and the first-order
    directions with the exact hypergradient.  At the last state the error is
    also swept over ``sweep_epsilons`` in each of ``sweep_dtypes``.  The
    search is resumed after every stop, so it is the same search an
    uninterrupted run would make.  Returns ``{"trajectory": DataFrame,
    "sweep": DataFrame, "record": search record, "config": dict}``; the
    measurements are cached next to the run.
    """
    from .loops.search import run_search

    if points < 2:
        raise ValueError(f"points must be at least 2 (start and end), got {points}")
    overrides = resolve_overrides(overrides)
    extra = {"device": device, "seed": int(seed), **({"data_root": str(data_root)} if data_root else {})}
    config = search_config(preset, **{**overrides, "method": method, "lam": float(lam), **extra})
    request = {"points": points, "epsilons": list(epsilons), "sweep_epsilons": list(sweep_epsilons),
               "sweep_dtypes": list(sweep_dtypes), "dtype": dtype, "lam": lam}
    # The search is the run store's own run of this setting when that does not
    # exist yet (stopping and resuming leaves it bit-identical, so notebooks 2-3
    # reuse it); otherwise a separate run in gradient_trajectory/.
    spec = _setting_for(method, lam)
    shared = run_dir(spec, config, preset, runs_root(output_root))
    separate = runs_root(output_root) / preset / "gradient_trajectory" / f"{spec.key}_seed{seed}-{config_hash(config)}"
    for folder in (shared, separate):
        cached = _cached_measurements(folder, request)
        if cached is not None:
            if verbose:
                print(f"stored measurements: {folder / 'gradient_error.json'}")
            return cached
    if reuse_only:
        raise FileNotFoundError(f"reuse_only=True but no measurements for these settings in {shared} or {separate}; "
                                "run the notebook with reuse_only=False")
    folder = shared if not shared.exists() else separate
    if (folder / "record.json").exists():
        raise FileExistsError(f"{folder} holds a search but no measurements of these settings; the states between "
                              "its steps are gone: delete the folder to measure again")
    cache = folder / "gradient_error.json"

    torch_device = resolve_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    work_dtype = _DTYPES[dtype]
    batch, steps_per_epoch, num_classes = _measurement_batch(config, work_dtype, torch_device)
    total = steps_per_epoch * config.epochs
    stops = sorted({round(i * total / (points - 1)) for i in range(points)})
    trajectory: list[dict] = []
    done = 0
    start = time.perf_counter()
    for stop in stops:
        if stop > done:
            with warnings.catch_warnings():
                # A resume at the very end of an epoch steps the scheduler before
                # any optimizer step of that call: torch warns, harmlessly.
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step()`")
                result = run_search(config, folder, stop_after_steps=None if stop == total else stop - done,
                                    progress=False)
            done = stop
        checkpoint = load_checkpoint(folder / "checkpoint.pt") if done else None
        ctx, xi = _search_state(config, checkpoint, num_classes, work_dtype, torch_device)
        for row in measure_gradients(ctx, batch, xi, lam, epsilons):
            trajectory.append({"step": done, "epoch": done / steps_per_epoch, **row})
        if verbose:
            print(f"step {done:5d}/{total}: measured ({time.perf_counter() - start:.0f} s so far)")
    assert result.completed
    sweep = []
    final = load_checkpoint(folder / "checkpoint.pt")
    for name in sweep_dtypes:
        sweep_batch = tuple(t.to(_DTYPES[name]) if t.is_floating_point() else t for t in batch)
        ctx, xi = _search_state(config, final, num_classes, _DTYPES[name], torch_device)
        # Below ~1e-6 a float32 difference is round-off only: not worth the time.
        usable = [e for e in sweep_epsilons if name == "float64" or e >= 1e-6]
        for row in measure_gradients(ctx, sweep_batch, xi, lam, usable):
            sweep.append({"dtype": name, "step": total, **row})
    if verbose:
        print(f"epsilon sweep at the last state done ({time.perf_counter() - start:.0f} s)")
    record = read_json(folder / "record.json")
    write_json(cache, {"request": request, "config": config.to_dict(), "trajectory": trajectory, "sweep": sweep,
                       "measure_s": time.perf_counter() - start})
    return {"trajectory": pd.DataFrame(trajectory), "sweep": pd.DataFrame(sweep), "record": record,
            "config": config.to_dict(), "run_dir": str(folder)}


# ---------------------------------------------------------------------------
# Notebooks 6 and 7: training genotypes from scratch (Tables 1 and 2).

#: Training overrides a notebook uses when its ``train_overrides`` parameter is
#: None.  The smoke train preset (5 epochs on 2,500 images) takes about 10 min
#: per network on 2 busy CPU cores; the notebooks' smoke default keeps the
#: network and shrinks the data so the three networks of Table 1 fit in about
#: 2 minutes, with batch 16 so that 2 epochs are 62 steps (batch 64 leaves
#: the networks at chance; measured: 9% -> 18% test accuracy at the same cost).
TRAIN_DEFAULTS: dict[str, dict[str, dict]] = {
    "smoke": {"cifar10": {"epochs": 2, "train_per_class": 50, "test_per_class": 50, "batch_size": 16},
              "imagenet": {}},
    "paper": {"cifar10": {}, "imagenet": {}},
}
#: The genotypes each preset evaluates besides the searched one.
TABLE1_GENOTYPES = {"smoke": ["DARTS_V2", "MILENAS_2_34"],
                    "paper": ["DARTS_V2", "MILENAS_2_34", "MILENAS_2_80", "MILENAS_2_50", "MILENAS_2_76"]}
TABLE2_GENOTYPES = {"smoke": ["DARTS_V2", "MILENAS_2_34"], "paper": ["DARTS_V2", "MILENAS_2_34", "MILENAS_2_50"]}


def train_overrides_for(preset: str, dataset: str, overrides: Any = None) -> dict:
    """``overrides``, or the notebook default of the preset when it is None."""
    overrides = _literal(overrides)
    if overrides is None:
        return dict(TRAIN_DEFAULTS.get(preset, {}).get(dataset, {}))
    return resolve_overrides(overrides)


def genotype_choice(names: Any, preset: str, table: Mapping[str, list[str]]) -> list[str]:
    names = _literal(names)
    if names is None:
        return list(table.get(preset, table["smoke"]))
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    return list(names)


def searched_genotypes(records: Sequence[dict], label: str = "searched") -> dict[str, str]:
    """The best search (highest last-epoch search-val accuracy, as the paper
    picks) as ``{name: path of its record.json}``: training from the record
    keeps the link to the search, its method and cost (Table 1's columns)."""
    if not records:
        return {}
    best = best_run(records)
    name = f"{label} {best.get('setting', best['method'])} (search seed {best['seed']})"
    return {name: str(Path(best["run_dir"]) / "record.json")}


def evaluation_candidates(searches: Sequence[dict], genotypes: Any, preset: str,
                          table: Mapping[str, list[str]]) -> dict[str, str]:
    """``{name: genotype source}`` to train: the best of ``searches`` (its
    record.json) and the registered cells ``genotypes`` (None: the preset's list)."""
    return {**searched_genotypes(searches), **{name: name for name in genotype_choice(genotypes, preset, table)}}


def train_n(records: Sequence[dict]) -> Optional[str]:
    if not records:
        return None
    seeds = sorted({r["seed"] for r in records})
    return f"n = {len(seeds)} seed{'s' if len(seeds) > 1 else ''} per network"


def train_provenance(records: Sequence[dict], device: str = "auto") -> dict:
    """This process's provenance plus each training run's own."""
    runs = [{key: r.get(key) for key in ("name", "seed", "run_dir", "git_commit", "created", "device_name",
                                         "data_source", "time_s", "genotype_text", "search")} for r in records]
    configs = {r.get("name", "?"): {k: v for k, v in r["config"].items() if k != "seed"} for r in records}
    data = records[0].get("data_source") if records else None
    return {**provenance(resolve_device(device), data), "seeds": sorted({r["seed"] for r in records}),
            "train_configs": configs, "runs": runs}


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


def train_runs(genotypes: Mapping[str, str] | Sequence[str], seeds: Any, preset: str, dataset: str = "cifar10", *,
               overrides: Any = None, output_root: Optional[str | Path] = None, device: str = "auto",
               data_root: Optional[str] = None, reuse_only: bool = False, progress: bool = False,
               verbose: bool = True) -> list[dict]:
    """Train each genotype (a name → registered name, genotype JSON or search
    record path) once per seed, in the run store
    ``results/runs/<preset>/train_<dataset>/<name>/seed<S>-<hash>/``; finished
    runs are read back.  Returns the training records with ``name`` added."""
    from .config import train_config
    from .loops.train import _config_identity, run_training
    from .space.genotype import resolve_genotype

    if not isinstance(genotypes, Mapping):
        genotypes = {name: name for name in genotypes}
    seeds = resolve_seeds(seeds, preset)
    overrides = resolve_overrides(overrides)
    # An override of the data set (e.g. the tests' "synthetic") replaces the notebook's.
    dataset = overrides.pop("dataset", dataset)
    store = runs_root(output_root) / preset / f"train_{dataset}"
    extra: dict[str, Any] = {"device": device, **({"data_root": str(data_root)} if data_root else {})}
    plan = []
    for name, source in genotypes.items():
        for seed in seeds:
            config = train_config(preset, dataset=dataset, **{**overrides, **extra,
                                                              "genotype": str(source), "seed": int(seed)})
            identity = json.dumps(_config_identity(config, resolve_genotype(config.genotype)), sort_keys=True,
                                  default=str)
            folder = store / _safe(name) / f"seed{seed}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
            plan.append((name, seed, config, folder))
    jobs = [(folder, f"train {name} seed {seed} on {dataset}",
             lambda config=config, folder=folder: run_training(config, folder, progress=progress).record)
            for name, seed, config, folder in plan]
    records = _records_from_store(jobs, "training", reuse_only, verbose)
    return [{**record, "name": name, "preset": preset, "run_dir": str(folder)}
            for record, (name, _, _, folder) in zip(records, plan)]


def _safe(name: str) -> str:
    """A folder name: letters, digits, '-', '.', and single '_' for anything else."""
    import re

    return re.sub(r"[^0-9A-Za-z.\-]+", "_", name).strip("_") or "genotype"


def train_detail(records: Sequence[dict], preset: str) -> str:
    """Second title line for training results: protocol, data, n."""
    from .records.tables import data_label as train_data_label

    if not records:
        return f"preset {preset} · no runs"
    c = records[0]["config"]
    seeds = sorted({r["seed"] for r in records})
    return (f"preset {preset}: {c['epochs']} epochs, {c['layers']} cells, C={c['C']}, {c['resolution']} px · "
            f"{train_data_label(records[0])} · n = {len(seeds)} seed{'s' if len(seeds) > 1 else ''} per network")


def train_data_source(records: Sequence[dict]) -> str:
    from .records.tables import data_label as train_data_label

    return train_data_label(records[0]) if records else "no training runs (sizes and quoted rows only)"


def training_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per (run, epoch) of training records: errors in %."""
    rows = []
    for record in records:
        for entry in record["epochs"]:
            rows.append({"name": record.get("name"), "seed": record["seed"], "epoch": entry["epoch"] + 1,
                         "train_loss": entry["train_loss"], "test_loss": entry["test_loss"],
                         "train_error": 100 * (1 - entry["train_top1"]), "test_error": 100 * (1 - entry["test_top1"]),
                         "test_top5_error": 100 * (1 - entry["test_top5"]), "lr": entry["lr"],
                         "epoch_time_s": entry["epoch_time_s"]})
    return pd.DataFrame(rows)


def cifar10_imagefolder(data_root: Optional[str | Path] = None, cache_dir: Optional[str | Path] = None) -> Path:
    """CIFAR-10 in ImageFolder layout (``train/``, ``test/``), extracted once from
    the offline JPEG archive into the cache: a stand-in that runs the ImageNet
    code path on a CPU.  Records say its classes are CIFAR-10's, never ImageNet."""
    import os
    import shutil
    import tarfile
    import tempfile

    from .data.cifar10 import ARCHIVE_NAME, ARCHIVE_SHA256, _archive_candidates, resolve_cache_dir

    target = resolve_cache_dir(cache_dir) / "cifar10-imagefolder"
    if (target / "train").is_dir() and (target / "test").is_dir():
        return target
    named = os.environ.get("MILENAS_CIFAR10_ARCHIVE")
    candidates = ([Path(named)] if named else []) + _archive_candidates(Path(data_root) if data_root else None)
    archive = next((c for c in candidates if c.is_file()), None)
    if archive is None:
        from .data import DataNotFoundError

        raise DataNotFoundError(f"the CIFAR-10 JPEG archive {ARCHIVE_NAME} (sha256 {ARCHIVE_SHA256}) was not found "
                                f"in {', '.join(map(str, candidates))}; set MILENAS_CIFAR10_ARCHIVE")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cifar10-imagefolder.", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(scratch, filter="data")
        # The archive holds train/ and test/ at its top (or under one folder).
        if (scratch / "train").is_dir():
            os.replace(scratch, target)
        else:
            os.replace(next(p for p in scratch.iterdir() if (p / "train").is_dir()), target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def imagenet_root(preset: str, root: Optional[str] = None) -> tuple[Optional[str], str]:
    """Where notebook 7 reads ImageNet: ``root`` when given; for the smoke preset
    without one, the CIFAR-10 ImageFolder stand-in; for the paper preset
    without one, nothing (the table then holds quoted rows and sizes only)."""
    if root:
        return str(root), f"ImageFolder tree {root}"
    if preset != "paper":
        from .data import DataNotFoundError

        try:
            return str(cifar10_imagefolder()), "CIFAR-10 JPEGs in ImageFolder layout (a stand-in: NOT ImageNet)"
        except DataNotFoundError as error:
            return None, f"no ImageNet given and no CIFAR-10 archive for the stand-in ({error})"
    return None, "no ImageNet given (imagenet_root=None): Table 2 holds the quoted rows and network sizes only"


def table_rows(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The rows of a paper table from one source: "ours" (trained here),
    "sizes" (network sizes, untrained) or "quoted" (the paper's), with the
    columns that are empty for that source left out."""
    select = {"ours": frame["source"] == "ours", "sizes": frame["source"] == "ours (size only)",
              "quoted": frame["source"].str.startswith("quoted")}
    if source not in select:
        raise ValueError(f"source must be one of {', '.join(select)}, got {source!r}")
    return frame[select[source]].dropna(axis=1, how="all").reset_index(drop=True)


# ---------------------------------------------------------------------------
# Notebook 9 (teaching): the relaxation and the rules, shown on small values.

def relaxation_demo(alpha: Sequence[float] = (0.0, 0.5, 0.2, 1.5, 2.0, 1.0, 0.3, 0.1), C: int = 4,
                    seed: int = 0) -> dict:
    """Eq. 8 on one edge: softmax(α) weights and the mixed output Σ_k p_k o_k(x),
    checked against the supernet's own ``MixedOp``."""
    from .space.operations import PRIMITIVES
    from .space.supernet import MixedOp

    torch.manual_seed(seed)
    alpha_t = torch.tensor(alpha, dtype=torch.float32)
    weights = torch.softmax(alpha_t, dim=0)
    edge = MixedOp(C, stride=1).eval()
    x = torch.randn(1, C, 8, 8)
    with torch.no_grad():
        outputs = [op(x) for op in edge.ops]
        by_hand = sum(w * o for w, o in zip(weights, outputs))
        mixed = edge(x, weights)
    table = pd.DataFrame({"operation": PRIMITIVES, "alpha": alpha_t.tolist(), "softmax weight p_k": weights.tolist(),
                          "mean |o_k(x)|": [float(o.abs().mean()) for o in outputs]})
    return {"table": table, "max_difference": float((by_hand - mixed).abs().max())}


def operations_table() -> pd.DataFrame:
    """The eight candidate operations, in α's order, with what each computes."""
    from .space.operations import CONV_OPS, PRIMITIVES

    what = {"none": "zero: the edge is absent", "max_pool_3x3": "3x3 max pooling",
            "avg_pool_3x3": "3x3 average pooling", "skip_connect": "identity (reduction: factorized 1x1 convs)",
            "sep_conv_3x3": "depthwise-separable 3x3 conv, twice", "sep_conv_5x5": "depthwise-separable 5x5 conv, twice",
            "dil_conv_3x3": "dilated (2) separable 3x3 conv", "dil_conv_5x5": "dilated (2) separable 5x5 conv"}
    return pd.DataFrame([{"α index": i, "operation": op, "computes": what[op], "conv op (model size)": op in CONV_OPS}
                         for i, op in enumerate(PRIMITIVES)])


def rules_table() -> pd.DataFrame:
    """The update rules: which gradient moves α, which moves w, and the passes per step."""
    from .algorithms import RULES, make_rule

    formulas = {
        "single_level": ("∇α L_tr(w, α)", "Eq. 3: min over w and α of L_tr"),
        "darts_1st": ("∇α L_val(w, α)", "Eq. 1-2, with w*(α) ≈ w"),
        "darts_2nd": ("∇α L_val(w', α) − ξ·(∇α L_tr(w⁺) − ∇α L_tr(w⁻)) / 2ε", "Eq. 6-7, one unrolled step"),
        "milenas": ("∇α L_tr(w, α) + λ·∇α L_val(w, α)", "Eq. 4-5 (mixed level)"),
        "switch": ("2nd-order DARTS, then MiLeNAS", "Fig. 3a's switch"),
        "gdas": ("∇α L_val on hard Gumbel samples", "bilevel with sampling"),
        "milenas_gumbel": ("∇α L_tr + λ·∇α L_val on hard Gumbel samples", "mixed level with sampling"),
    }
    rows = []
    for name in RULES:
        rule = make_rule(SearchConfig(method=name))
        formula, source = formulas.get(name, ("", ""))
        rows.append({"method": name, "α descends": formula, "formulation": source,
                     "w descends": "∇w L_tr(w, α)", "passes per step": rule.passes})
    return pd.DataFrame(rows)


def rule_source(method: str) -> str:
    """The source of a rule's ``step``: the equation as code (for reading in a notebook)."""
    import inspect

    from .algorithms import make_rule

    rule = make_rule(SearchConfig(method=method))
    return inspect.getsource(type(rule).step)


__all__ = [
    "GENOTYPES", "resolve_settings", "final_genotype", "milenas_setting", "operations_table", "records_of", "run_genotypes",
    "trajectory_points", "trajectory_summary",
    "DEFAULT_SEEDS", "FIG2_SETTINGS", "FIG3_SETTINGS", "FIG5_SETTINGS", "NotebookOutputs", "PAPER_BEST_RANGE_M",
    "PAPER_FIG5", "PAPER_FIG5_ERRORS", "PAPER_MILENAS_ARCHS", "SETTINGS", "Setting", "best_per_bucket", "best_run",
    "bucket_frame", "config_hash", "data_label", "figure_detail", "final_table", "genotype_table",
    "smoothing_window", "supernet_summary", "switch_epoch", "fig2_claims", "fig3_claims", "fig5_claims", "final_epoch",
    "gradient_error_trajectory", "make_search_config", "mean_std", "measure_gradients", "n_label",
    "notebook_outputs", "records_frame", "records_provenance", "relaxation_demo", "resolve_overrides",
    "resolve_root", "resolve_seeds", "rule_source", "rules_table", "run_dir", "runs_root", "search_runs",
    "search_time_frame", "setting", "setup_label", "smooth", "time_ratio",
]
