"""The same-run step benchmark's file: ``scripts/bench_speedup.py`` writes it into ``results/<preset>/``,
notebook 10 reads it for claim 4 (what the report says of it: :mod:`.claims_report`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .params import results_dir

#: The step benchmark's file in ``results/<preset>/``.
SPEED_BENCHMARK = "speed_benchmark.json"


def speed_benchmark_path(preset: str, output_root: Optional[str | Path] = None) -> Path:
    return results_dir(output_root, preset) / SPEED_BENCHMARK


def load_speed_benchmark(preset: str, output_root: Optional[str | Path] = None) -> Optional[dict]:
    """The preset's same-run step benchmark, or None when it was not run."""
    path = speed_benchmark_path(preset, output_root)
    return json.loads(path.read_text()) if path.is_file() else None
