"""The paper's Table 1 (CIFAR-10) and Table 2 (ImageNet), with our results beside the quoted rows.

``table1(records)`` and ``table2(records)`` return pandas DataFrames (and
write CSV when given a path).  Rows quoted from the paper carry
``source = "quoted (paper Table N)"``; ours carry ``source = "ours"`` and
say how many seeds (``n``), which data (``data``) and which protocol
(``protocol``: "paper" only when every setting that shapes the result equals
the paper preset) they come from.  Our error is the **final-epoch** test
error, mean and standard deviation over seeds (GUIDE §3.5): never the best
epoch.  Table 2 also lists, for every registered genotype, the parameters and
mult-adds of its ImageNet network at the paper's size (C=48, 14 cells,
224x224), untrained (``source = "ours (size only)"``).
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import pandas as pd

from ..config import train_config
from ..networks import network_summary
from ..space.genotype import GENOTYPES, Genotype

TABLE1_COLUMNS = ["architecture", "test_error", "test_error_std", "params_m", "search_cost_gpu_days",
                  "search_method", "n", "data", "protocol", "source", "note"]
TABLE2_COLUMNS = ["architecture", "top1_error", "top1_error_std", "top5_error", "top5_error_std", "params_m",
                  "mult_adds_m", "search_cost_gpu_days", "search_method", "n", "data", "protocol", "source", "note"]
QUOTED_1, QUOTED_2 = "quoted (paper Table 1)", "quoted (paper Table 2)"


@dataclass(frozen=True)
class Quoted:
    """One row as printed in the paper (errors in %, params in millions)."""

    architecture: str
    error: Optional[float]
    error_std: Optional[float]
    params_m: Optional[float]
    search_cost: Optional[float]
    method: str
    note: str = ""
    top5: Optional[float] = None
    mult_adds_m: Optional[float] = None


#: Table 1 of the paper, CIFAR-10 test error (%).
PAPER_TABLE1: tuple[Quoted, ...] = (
    Quoted("DenseNet-BC", 3.46, None, 25.6, None, "manual"),
    Quoted("NASNet-A + cutout", 2.65, None, 3.3, 2000, "RL"),
    Quoted("BlockQNN", 3.54, None, 39.8, 96, "RL"),
    Quoted("AmoebaNet-B + cutout", 2.55, 0.05, 2.8, 3150, "evolution"),
    Quoted("Hierarchical evolution", 3.75, 0.12, 15.7, 300, "evolution"),
    Quoted("PNAS", 3.41, 0.09, 3.2, 225, "SMBO"),
    Quoted("ENAS + cutout", 2.89, None, 4.6, 0.5, "RL"),
    Quoted("DARTS (second order)", 2.76, 0.09, 3.3, 4, "gradient-based"),
    Quoted("SNAS (moderate)", 2.85, 0.02, 2.8, 1.5, "gradient-based"),
    Quoted("SNAS (aggressive)", 3.10, 0.04, 2.3, 1.5, "gradient-based"),
    Quoted("GDAS", 2.82, None, 2.5, 0.17, "gradient-based"),
    Quoted("MiLeNAS", 2.51, 0.11, 3.87, 0.3, "gradient-based", "best: 2.34"),
    Quoted("MiLeNAS", 2.80, 0.04, 2.87, 0.3, "gradient-based", "best: 2.72"),
    Quoted("MiLeNAS", 2.50, None, 2.86, 0.3, "gradient-based"),
    Quoted("MiLeNAS", 2.76, None, 2.09, 0.3, "gradient-based"),
)

#: Table 2 of the paper, ImageNet top-1 / top-5 error (%), mult-adds in millions.
PAPER_TABLE2: tuple[Quoted, ...] = (
    Quoted("Inception-v1", 30.2, None, 6.6, None, "manual", top5=10.1, mult_adds_m=1448),
    Quoted("MobileNet", 29.4, None, 4.2, None, "manual", top5=10.5, mult_adds_m=569),
    Quoted("ShuffleNet", 26.3, None, 5.0, None, "manual", "params printed as ~5", mult_adds_m=524),
    Quoted("NASNet-A", 26.0, None, 5.3, 2000, "RL", top5=8.4, mult_adds_m=564),
    Quoted("AmoebaNet-A", 25.5, None, 5.1, 3150, "evolution", top5=8.0, mult_adds_m=555),
    Quoted("AmoebaNet-C", 24.3, None, 6.4, 3150, "evolution", top5=7.6, mult_adds_m=570),
    Quoted("PNAS", 25.8, None, 5.1, 225, "SMBO", "search cost printed as ~225", top5=8.1, mult_adds_m=588),
    Quoted("DARTS", 26.7, None, 4.7, 1, "gradient-based", top5=8.7, mult_adds_m=574),
    Quoted("SNAS", 27.3, None, 4.2, 1.5, "gradient-based", top5=9.2, mult_adds_m=522),
    Quoted("GDAS", 27.5, None, 4.4, 0.17, "gradient-based", top5=9.1, mult_adds_m=497),
    Quoted("GDAS", 26.0, None, 5.3, 0.21, "gradient-based", top5=8.5, mult_adds_m=581),
    Quoted("MiLeNAS", 25.4, None, 4.9, 0.3, "gradient-based", top5=7.9, mult_adds_m=570),
    Quoted("MiLeNAS", 24.7, None, 5.3, 0.3, "gradient-based", top5=7.6, mult_adds_m=584),
)

#: Search cost (GPU-days) and method the paper gives for the registered
#: genotypes it evaluated (Table 1); used for our rows of those genotypes.
GENOTYPE_SEARCH: dict[str, tuple[Optional[float], str]] = {
    "DARTS_V1": (None, "gradient-based"),
    "DARTS_V2": (4, "gradient-based"),
    "MILENAS_2_34": (0.3, "gradient-based"),
    "MILENAS_2_50": (0.3, "gradient-based"),
    "MILENAS_2_80": (0.3, "gradient-based"),
    "MILENAS_2_76": (0.3, "gradient-based"),
    "MILENAS_GUMBEL": (None, "gradient-based"),
}

# Settings that do not change what a result means: they are ignored when
# deciding whether a run followed the paper protocol.
_NOT_PROTOCOL = {"genotype", "seed", "device", "num_threads", "data_root", "workers", "eval_batch_size", "bf16",
                 "channels_last", "compile", "micro_batches", "sync_batchnorm"}


def load_train_records(paths: Iterable[str | Path]) -> list[dict]:
    """The training records among ``paths``: record.json files, or folders searched recursively."""
    records = []
    for path in map(Path, paths):
        files = sorted(path.rglob("record.json")) if path.is_dir() else [path]
        for file in files:
            record = json.loads(file.read_text())
            if record.get("kind") == "train":
                records.append(record)
    return records


def registered_name(genotype: Genotype) -> Optional[str]:
    return next((name for name, known in GENOTYPES.items() if known == genotype), None)


def protocol_label(record: dict) -> str:
    """"paper" when the run followed the paper preset, else what was reduced."""
    config = record["config"]
    paper = train_config("paper", dataset="imagenet" if config["dataset"] == "imagenet" else "cifar10").to_dict()
    # JSON turned the config's tuples into lists; compare like with like.
    differing = sorted(name for name, value in paper.items()
                       if name not in _NOT_PROTOCOL and config.get(name) != (list(value) if isinstance(value, tuple)
                                                                             else value))
    if not differing:
        return "paper"
    source = record.get("data_source") or {}
    return (f"reduced: {config['epochs']} epochs, {config['layers']} cells, C={config['C']}, "
            f"{config['resolution']} px, {source.get('train_images', '?')} train images "
            f"(differs in {', '.join(differing)})")


def data_label(record: dict) -> str:
    source = record.get("data_source") or {}
    detail = source.get("detail") or {}
    text = f"{source.get('source', 'unknown')} ({source.get('train_images', '?')} train / " \
           f"{source.get('test_images', '?')} test images)"
    return f"{text}; {detail['note']}" if source.get("source") == "imagefolder" and detail.get("note") else text


def _architecture(record: dict) -> tuple[str, Optional[float], str, str]:
    """Name, search cost (GPU-days), search method and a note on where the cost comes from."""
    genotype = Genotype.from_dict(record["genotype"])
    name = registered_name(genotype)
    search = record.get("search")
    if search:
        hours = search.get("gpu_hours")
        note = ("search cost measured" if hours is not None
                else f"searched on {search.get('device_name')}: {search.get('time_s', 0) / 3600:.2f} h, no GPU cost")
        label = f"searched ({search.get('method')}" + (f", λ={search['lam']:g}" if search.get("lam") is not None
                                                      else "") + ")"
        return label, hours / 24 if hours is not None else None, "gradient-based", note
    if name:
        cost, method = GENOTYPE_SEARCH.get(name, (None, "gradient-based"))
        return name, cost, method, "search cost quoted from the paper" if cost is not None else ""
    return "custom genotype", None, "", ""


def _mean_std(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _our_rows(records: list[dict], datasets: set[str]) -> list[dict]:
    """One row per (genotype, dataset, protocol, data): final-epoch results over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if record.get("kind") != "train" or record.get("dataset") not in datasets or not record.get("completed"):
            continue
        key = (json.dumps(record["genotype"], sort_keys=True), record["dataset"], protocol_label(record),
               data_label(record))
        groups.setdefault(key, []).append(record)
    rows = []
    for (_, _, protocol, data), group in groups.items():
        first = group[0]
        architecture, cost, method, note = _architecture(first)
        top1 = _mean_std([100 * (1 - r["final_test_top1"]) for r in group])
        top5 = _mean_std([100 * (1 - r["final_test_top5"]) for r in group])
        rows.append({
            "architecture": architecture, "test_error": top1[0], "test_error_std": top1[1],
            "top1_error": top1[0], "top1_error_std": top1[1], "top5_error": top5[0], "top5_error_std": top5[1],
            "params_m": first["params"] / 1e6, "mult_adds_m": first["mult_adds"] / 1e6,
            "search_cost_gpu_days": cost, "search_method": method, "n": len(group), "data": data,
            "protocol": protocol, "source": "ours", "note": "; ".join(filter(None, [note, "final-epoch error"])),
        })
    return rows


def _finish(rows: list[dict], columns: list[str], csv_path: Optional[str | Path]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if csv_path is not None:
        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(csv_path, index=False)
    return frame


def table1(records: Iterable[dict], csv_path: Optional[str | Path] = None) -> pd.DataFrame:
    """Table 1: CIFAR-10 test error (%), params (M), search cost (GPU-days), method."""
    quoted: list[dict[str, Any]] = [{
        "architecture": row.architecture, "test_error": row.error, "test_error_std": row.error_std,
        "params_m": row.params_m, "search_cost_gpu_days": row.search_cost, "search_method": row.method,
        "n": None, "data": "CIFAR-10 (official)", "protocol": "paper", "source": QUOTED_1, "note": row.note,
    } for row in PAPER_TABLE1]
    ours = _our_rows(list(records), {"cifar10"})
    return _finish(quoted + ours, TABLE1_COLUMNS, csv_path)


def table2(records: Iterable[dict], csv_path: Optional[str | Path] = None,
           genotypes: Optional[dict[str, Genotype]] = None) -> pd.DataFrame:
    """Table 2: ImageNet top-1 / top-5 error (%), params (M), mult-adds (M), search cost, method."""
    quoted: list[dict[str, Any]] = [{
        "architecture": row.architecture, "top1_error": row.error, "top1_error_std": row.error_std,
        "top5_error": row.top5, "top5_error_std": None, "params_m": row.params_m, "mult_adds_m": row.mult_adds_m,
        "search_cost_gpu_days": row.search_cost, "search_method": row.method, "n": None,
        "data": "ImageNet (ILSVRC2012)", "protocol": "paper", "source": QUOTED_2, "note": row.note,
    } for row in PAPER_TABLE2]
    sizes = []
    for name, genotype in (GENOTYPES if genotypes is None else genotypes).items():
        summary = network_summary(genotype, "imagenet")
        cost, method = GENOTYPE_SEARCH.get(name, (None, ""))
        sizes.append({
            "architecture": name, "params_m": summary["params"] / 1e6, "mult_adds_m": summary["mult_adds"] / 1e6,
            "search_cost_gpu_days": cost, "search_method": method, "protocol": "paper network size, not trained",
            "source": "ours (size only)",
            "note": "C=48, 14 cells, 224x224; params without auxiliary head; mult-adds of conv and linear layers"
                    + ("; search cost quoted from the paper" if cost is not None else ""),
        })
    ours = _our_rows(list(records), {"imagenet"})
    return _finish(quoted + sizes + ours, TABLE2_COLUMNS, csv_path)
