"""The paper's Table 1 (CIFAR-10) and Table 2 (ImageNet), with our results beside the quoted rows.

``table1(records)`` and ``table2(records)`` return pandas DataFrames (and
write CSV when given a path).  Rows quoted from the paper (:mod:`.quoted`)
carry ``source = "quoted (paper Table N)"``; ours carry ``source = "ours"``
and say how many seeds (``n``), which data (``data``) and which protocol
(``protocol``: "paper" only when every setting that shapes the result equals
the paper preset) they come from.  Our error is the **final-epoch** test
error, mean and standard deviation over seeds (docs/PROTOCOL.md): never the
best epoch.  Table 2 also lists, for every registered genotype, the
parameters and mult-adds of its ImageNet network at the paper's size (C=48,
14 cells, 224x224), untrained (``source = "ours (size only)"``).
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Iterable, Optional

import pandas as pd

from ..config import protocol_settings, train_config
from ..names import check_choice
from ..networks import network_summary
from ..space.genotype import GENOTYPES, Genotype
from .labels import train_data_label
from .quoted import GENOTYPE_SEARCH, PAPER_TABLE1, PAPER_TABLE2, QUOTED_1, QUOTED_2

TABLE1_COLUMNS = ["architecture", "test_error", "test_error_std", "params_m", "search_cost_gpu_days",
                  "search_method", "n", "data", "protocol", "source", "note"]
TABLE2_COLUMNS = ["architecture", "top1_error", "top1_error_std", "top5_error", "top5_error_std", "params_m",
                  "mult_adds_m", "search_cost_gpu_days", "search_method", "n", "data", "protocol", "source", "note"]

def registered_name(genotype: Genotype) -> Optional[str]:
    return next((name for name, known in GENOTYPES.items() if known == genotype), None)


def protocol_label(record: dict) -> str:
    """"paper" when every setting that defines the experiment (the config's
    protocol role) equals the paper preset's, else what was reduced."""
    config = record["config"]
    paper = protocol_settings(train_config("paper", dataset="imagenet" if config["dataset"] == "imagenet"
                                           else "cifar10"))
    differing = sorted(name for name, value in paper.items() if config.get(name) != value)
    if not differing:
        return "paper"
    source = record.get("data_source") or {}
    return (f"reduced: {config['epochs']} epochs, {config['layers']} cells, C={config['C']}, "
            f"{config['resolution']} px, {source.get('train_images', '?')} train images "
            f"(differs in {', '.join(differing)})")


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
               train_data_label(record))
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
            "note": "C=48, 14 cells, 224x224; params without auxiliary head; mult-adds of conv and linear layers "
                    "(no counting convention reproduces the published 574M/570M/584M: docs/PROTOCOL.md)"
                    + ("; search cost quoted from the paper" if cost is not None else ""),
        })
    ours = _our_rows(list(records), {"imagenet"})
    return _finish(quoted + sizes + ours, TABLE2_COLUMNS, csv_path)


def table_rows(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The rows of a paper table from one source: "ours" (trained here),
    "sizes" (network sizes, untrained) or "quoted" (the paper's), with the
    columns that are empty for that source left out."""
    select = {"ours": frame["source"] == "ours", "sizes": frame["source"] == "ours (size only)",
              "quoted": frame["source"].str.startswith("quoted")}
    check_choice(source, "source", tuple(select))
    return frame[select[source]].dropna(axis=1, how="all").reset_index(drop=True)
