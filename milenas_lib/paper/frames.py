"""Run records as tidy pandas frames, and their reductions (mean ± std over seeds,
smoothing, last epoch) that the figures draw.

Accuracies are in %, gaps in percentage points; ``epoch`` counts completed
epochs (1 = after the first).  Figures take the reduced frames made here
(:func:`curves`, :func:`final_epoch`), so ``plots`` never reduces data itself.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence

import pandas as pd

from ..networks import genotype_info
from ..space.genotype import Genotype, resolve_genotype
from .settings import label, record_key_and_label


def records_of(records: Sequence[dict], key: str) -> list[dict]:
    """The records of one setting (derived from each record's method, λ and order)."""
    return [r for r in records if record_key_and_label(r)[0] == key]


def final_genotype(record: dict) -> Genotype:
    """The genotype a search derived at its end."""
    return Genotype.from_dict(record["genotype"])


def run_genotypes(records: Sequence[dict]) -> dict:
    """``{"<label>, seed <s>": genotype}`` for a genotype table."""
    return {f"{record_key_and_label(r)[1]}, seed {r['seed']}": final_genotype(r) for r in records}


def best_run(records: Sequence[dict]) -> dict:
    """The run with the highest final search-val accuracy (how the paper picks
    the architecture to evaluate, §3.1)."""
    return max(records, key=lambda r: r["epochs"][-1]["val_acc"])


#: Class counts of the search datasets, for records written before they carried ``num_classes``.
_DATASET_CLASSES = {"cifar10": 10, "synthetic": 10}


def record_num_classes(record: dict) -> Optional[int]:
    """The number of classes a search classified (None when neither the record nor its dataset says)."""
    if record.get("num_classes"):
        return int(record["num_classes"])
    return _DATASET_CLASSES.get(record.get("config", {}).get("dataset", "cifar10"))


def _run_columns(record: dict) -> dict:
    key, legend = record_key_and_label(record)  # a record read from disk carries none: derived
    return {"setting": key, "label": legend, "method": record["method"], "lam": record["lam"], "seed": record["seed"]}


def records_frame(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (search run, epoch): accuracies, gap, losses, the derived
    cell's conv counts and size, time split, λ, seed."""
    rows = []
    for record in records:
        for entry in record["epochs"]:
            rows.append({
                **_run_columns(record), "epoch": entry["epoch"] + 1,
                "train_acc": 100 * entry["train_acc"], "val_acc": 100 * entry["val_acc"],
                "gap": 100 * entry["gap"], "train_loss": entry["train_loss"], "val_loss": entry["val_loss"],
                "convs_normal": entry["convs"][0], "convs_reduce": entry["convs"][1], "params_M": entry["params"] / 1e6,
                "skip_connects": entry["skip_connects"], "entropy_normal": entry["entropy"]["normal"],
                "entropy_reduce": entry["entropy"]["reduce"], "w_lr": entry["w_lr"],
                "alpha_step_s": entry["alpha_step_s"], "w_step_s": entry["w_step_s"], "eval_s": entry["eval_s"],
                "phase": entry.get("phase", record["method"]), "tau": entry.get("tau"),
                "genotype": entry["genotype_text"], "num_classes": record_num_classes(record),
                "resolution": (record.get("config") or {}).get("resolution", 32),
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


def curves(frame: pd.DataFrame, values: Sequence[str], window: int = 1, x: str = "epoch") -> pd.DataFrame:
    """What a curve figure draws: for each of ``values``, mean ± std over seeds per
    setting and ``x`` (after a ``window``-epoch moving average within each run),
    stacked in one long frame with a ``value`` column."""
    return pd.concat([mean_std(smooth(frame, value, window), value, ("setting", x)) for value in values],
                     ignore_index=True)


def final_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last epoch."""
    last = frame.groupby(["setting", "seed"])["epoch"].transform("max")
    return frame[frame["epoch"] == last]


def last_epochs_mean(frame: pd.DataFrame, values: Sequence[str], epochs: int) -> pd.DataFrame:
    """One row per run (setting, seed): each of ``values`` averaged over the run's last ``epochs`` epochs
    (fewer when the run is shorter), so that one noisy epoch does not decide a comparison."""
    frame = frame.sort_values(["setting", "seed", "epoch"])
    tail = frame.groupby(["setting", "seed"], sort=False).tail(max(1, int(epochs)))
    return tail.groupby(["setting", "seed"], sort=False)[list(values)].mean().reset_index()


def final_table(epochs: pd.DataFrame, values: Sequence[str] = ("train_acc", "val_acc", "gap")) -> pd.DataFrame:
    """Last-epoch values per setting as 'mean ± std' text with n, in the settings' order."""
    final = final_epoch(epochs)
    rows = []
    for key in dict.fromkeys(final["setting"]):
        part = final[final["setting"] == key]
        row = {"setting": label(key), "n": len(part)}
        for value in values:
            mean, std = part[value].mean(), part[value].std()
            row[value] = f"{mean:.2f}" + (f" ± {std:.2f}" if len(part) > 1 else "")
        rows.append(row)
    return pd.DataFrame(rows)


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
            **_run_columns(record),
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
    if times.empty:
        return None
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
                    **{k: v for k, v in _run_columns(record).items() if k in ("setting", "label", "seed")},
                    "table": table,
                    "bucket": key, "val_acc": 100 * entry["val_acc"], "epoch": entry["epoch"] + 1,
                    "convs_normal": entry["convs"][0], "convs_reduce": entry["convs"][1],
                    "params_M": entry["params"] / 1e6,
                    "genotype": str(Genotype.from_dict(entry["genotype"])),
                })
    return pd.DataFrame(rows)


def best_per_bucket(buckets: pd.DataFrame, table: str, by: Sequence[str] = ("setting",)) -> pd.DataFrame:
    """The best entry of each bucket over all runs (and seeds) of each group."""
    part = buckets[buckets["table"] == table]
    if part.empty:
        return part
    index = part.groupby([*by, "bucket"])["val_acc"].idxmax()
    return part.loc[index].sort_values([*by, "params_M"]).reset_index(drop=True)


def switch_epoch(records: Sequence[dict]) -> Optional[int]:
    """The number of bilevel epochs of the ``switch`` runs (``switch_at``, the
    resolved first MiLeNAS epoch; older records hold it in ``config``)."""
    for record in records:
        if record["method"] == "switch":
            return int(record.get("switch_at") or record["config"]["switch_epoch"])
    return None


def training_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per (training run, epoch): errors in %."""
    rows = []
    for record in records:
        for entry in record["epochs"]:
            rows.append({"name": record.get("name"), "seed": record["seed"], "epoch": entry["epoch"] + 1,
                         "train_loss": entry["train_loss"], "test_loss": entry["test_loss"],
                         "train_error": 100 * (1 - entry["train_top1"]), "test_error": 100 * (1 - entry["test_top1"]),
                         "test_top5_error": 100 * (1 - entry["test_top5"]), "lr": entry["lr"],
                         "epoch_time_s": entry["epoch_time_s"]})
    return pd.DataFrame(rows)


def genotype_table(genotypes: Mapping[str, Any]) -> pd.DataFrame:
    """Name, text, conv counts and CIFAR-10 / ImageNet network size of each genotype."""
    rows = []
    for name, genotype in genotypes.items():
        info = genotype_info(resolve_genotype(genotype))
        rows.append({"genotype": name, "convs (normal, reduce)": tuple(info["convs"]),
                     "CIFAR-10 params (M)": round(info["cifar10"]["params"] / 1e6, 3),
                     "ImageNet params (M)": round(info["imagenet"]["params"] / 1e6, 3),
                     "ImageNet mult-adds (M)": round(info["imagenet"]["mult_adds"] / 1e6),
                     "cells": info["text"]})
    return pd.DataFrame(rows)
