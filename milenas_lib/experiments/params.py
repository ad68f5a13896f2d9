"""Notebook parameters as papermill passes them, checked before anything is written.

``papermill -p`` turns ``True``/``False``/``None`` and numbers into Python
values and passes everything else as text (``-p reuse_only false`` arrives as
the string ``"false"``, ``-p seeds '[0,1]'`` as ``"[0,1]"``).  Each function
here reads one parameter in any of those forms or raises
:class:`ParameterError` with one line naming the parameter and a valid form,
so a notebook fails at its first cell with nothing touched.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Mapping, Optional

from ..config import SEARCH_PRESETS, ConfigError, train_config
from ..names import DEVICES
from ..records.provenance import DeviceUnavailableError, REPO_ROOT
from ..records.provenance import resolve_device as torch_device
from .settings import SETTINGS, Setting

#: Seeds a notebook uses when its ``seeds`` parameter is None.  The paper ran
#: every setting 4 times (§3.2); the CPU preset runs once to stay within minutes.
DEFAULT_SEEDS: dict[str, list[int]] = {"paper": [0, 1, 2, 3], "medium": [0, 1, 2], "long": [0, 1, 2, 3],
                                      "smoke": [0]}
PRESETS: tuple[str, ...] = tuple(SEARCH_PRESETS)
MAX_SEED = 2**63 - 1


class ParameterError(ValueError):
    """A notebook parameter that cannot work; the message names it and a valid form."""


def literal(value: Any) -> Any:
    """Text such as ``"[0, 1]"`` or ``'{"epochs": 3}'`` read as the Python value it spells; other values as they are."""
    if not isinstance(value, str):
        return value
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


def resolve_preset(preset: Any) -> str:
    if preset not in PRESETS:
        raise ParameterError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
    return preset


def resolve_flag(value: Any, name: str) -> bool:
    """A yes/no parameter: a bool, or the text ``true``/``false`` in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ParameterError(f"{name} must be True or False, got {value!r}")


def _seed(value: Any) -> int:
    # bool is an int subclass and 1.5 truncates to 1: both would silently pick another seed.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ParameterError(f"seeds must be a list of integers from 0 to 2**63-1 such as [0, 1, 2, 3], "
                             f"got {value!r}")
    return value


def resolve_seeds(seeds: Any, preset: str) -> list[int]:
    """``seeds`` as a list of ints: None gives the preset's default; a list, an
    int, or text such as ``"[0,1,2,3]"`` or ``"0,1"`` are accepted."""
    seeds = literal(seeds)
    if seeds is None:
        if preset not in DEFAULT_SEEDS:
            raise ParameterError(f"no default seeds for preset {preset!r}; pass seeds explicitly")
        return list(DEFAULT_SEEDS[preset])
    if isinstance(seeds, str):
        seeds = [literal(part) for part in seeds.replace(",", " ").split()]
    if not isinstance(seeds, (list, tuple)):
        seeds = [seeds]
    resolved = [_seed(s) for s in seeds]
    if not resolved:
        raise ParameterError("seeds is empty; give at least one seed")
    repeated = sorted({s for s in resolved if resolved.count(s) > 1})
    if repeated:  # one run counted twice would shrink the intervals and fake agreement between seeds
        raise ParameterError(f"seeds lists seed(s) {repeated} more than once, got {seeds!r}; give each seed once")
    return resolved


def check_device(device: Any) -> str:
    """The ``device`` parameter, kept as its name: ``auto``, ``cpu`` or ``cuda``
    (:func:`milenas_lib.records.provenance.resolve_device` gives the torch device).
    ``cuda`` on a machine without a GPU is refused (never silently read the CPU
    runs of the store)."""
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {', '.join(map(repr, DEVICES))}, got {device!r}")
    try:
        torch_device(device)
    except DeviceUnavailableError as error:
        raise ParameterError(f"device: {error}") from None
    return device


def resolve_overrides(overrides: Any, name: str = "overrides") -> dict:
    """A settings mapping (``search_overrides``/``train_overrides``), also from JSON text."""
    overrides = literal(overrides)
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ParameterError(f"{name} must be a mapping such as {{'epochs': 3}}, got {overrides!r}")
    return dict(overrides)


def resolve_names(names: Any, name: str) -> Optional[list[str]]:
    """A list of names (settings, genotypes), also from text ``"a, b"`` or ``"['a', 'b']"``; None stays None."""
    names = literal(names)
    if names is None:
        return None
    if isinstance(names, str):
        names = [part.strip("'\" ") for part in names.replace(",", " ").split() if part.strip("'\" ")]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ParameterError(f"{name} must be a list of names such as ['a', 'b'], got {names!r}")
    return list(names)


def resolve_settings(settings: Any, name: str = "settings") -> list[str | Setting]:
    """Setting keys (or :class:`Setting` objects), also from papermill text such as
    ``"['gdas', 'milenas_lam1']"`` or ``"gdas, darts_2nd"``; unknown keys are refused."""
    if isinstance(settings, Setting):
        return [settings]
    names = resolve_names([settings] if isinstance(settings, str) and settings in SETTINGS else settings, name)
    unknown = [key for key in names or [] if key not in SETTINGS]
    if names is None or unknown:
        raise ParameterError(f"{name} must name known settings ({', '.join(SETTINGS)}), got {settings!r}")
    return list(names)


def resolve_folder(value: Any, name: str) -> Optional[str]:
    """A folder that must exist (``data_root``, ``imagenet_root``); None or empty: none given."""
    value = literal(value)
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise ParameterError(f"{name} {str(value)!r} is not an existing folder")
    return str(path)


def resolve_number(value: Any, name: str, kind: type = float, minimum: Optional[float] = None,
                   optional: bool = False):
    """An int or float parameter (None allowed when ``optional``), at least ``minimum``."""
    value = literal(value)
    if value is None and optional:
        return None
    integral = isinstance(value, int) and not isinstance(value, bool)
    if not (integral or (kind is float and isinstance(value, float))) or (minimum is not None and value < minimum):
        form = "an integer" if kind is int else "a number"
        bound = f" of at least {minimum:g}" if minimum is not None else ""
        raise ParameterError(f"{name} must be {form}{bound}" + (" or None" if optional else "") + f", got {value!r}")
    return kind(value)


def resolve_floats(values: Any, name: str) -> Optional[tuple[float, ...]]:
    values = literal(values)
    if values is None:
        return None
    if not isinstance(values, (list, tuple)) or not values:
        raise ParameterError(f"{name} must be a non-empty list of numbers such as [1e-2, 1e-8], got {values!r}")
    return tuple(resolve_number(v, name) for v in values)


def resolve_choice(value: Any, name: str, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, valid))}, got {value!r}")
    return value


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


def results_dir(output_root: Optional[str | Path] = None, preset: str = "smoke") -> Path:
    """``results/<preset>/``: a preset's tables, reports, executed notebooks and index, so that
    one preset's outputs never overwrite another's (the committed ``medium`` evidence above all)."""
    return resolve_root(output_root) / "results" / preset


def figures_dir(output_root: Optional[str | Path] = None, preset: str = "smoke") -> Path:
    """``figures/<preset>/``: a preset's figures (PNG and PDF)."""
    return resolve_root(output_root) / "figures" / preset


# ---------------------------------------------------------------------------
# Per-preset defaults of notebook parameters.

def smoothing_window(preset: str, window: Optional[int] = None) -> int:
    """Fig. 2 is smoothed in the paper; 5 epochs for the paper preset, none for short runs."""
    return int(window) if window else (5 if preset == "paper" else 1)


def trajectory_points(preset: str, points: Optional[int] = None) -> int:
    """Measured states along the search: every 5 epochs of the paper's 50 (11),
    every epoch of the smoke preset's 2 (3)."""
    return int(points) if points else (11 if preset == "paper" else 3)


#: ε of notebook 8's panel (c): DARTS' 0.01 down to where float64 round-off takes over.
SWEEP_EPSILONS: tuple[float, ...] = tuple(10.0 ** -k for k in range(1, 11))

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
#: The genotypes each preset evaluates besides the searched one (Tables 1 and 2).
TABLE1_GENOTYPES = {"smoke": ["DARTS_V2", "MILENAS_2_34"],
                    "paper": ["DARTS_V2", "MILENAS_2_34", "MILENAS_2_80", "MILENAS_2_50", "MILENAS_2_76"]}
TABLE2_GENOTYPES = {"smoke": ["DARTS_V2", "MILENAS_2_34"], "paper": ["DARTS_V2", "MILENAS_2_34", "MILENAS_2_50"]}


def train_overrides_for(preset: str, dataset: str, overrides: Any = None) -> dict:
    """``overrides``, or the notebook default of the preset when it is None."""
    if literal(overrides) is None:
        return dict(TRAIN_DEFAULTS.get(preset, {}).get(dataset, {}))
    return resolve_overrides(overrides, "train_overrides")


def genotype_choice(names: Any, preset: str, table: Mapping[str, list[str]]) -> list[str]:
    """``names``, or the preset's list of ``table`` when it is None."""
    chosen = resolve_names(names, "genotypes")
    return list(table.get(preset, table["smoke"])) if chosen is None else chosen


DTYPE_NAMES: tuple[str, ...] = ("float64", "float32")


def resolve_train_overrides(value: Any, preset: str) -> Optional[dict]:
    """None (the preset's notebook default) or a mapping of TrainConfig fields, checked against the config."""
    if literal(value) is None:
        return None
    overrides = resolve_overrides(value, "train_overrides")
    try:
        train_config(preset, dataset=overrides.get("dataset", "cifar10"),
                     **{k: v for k, v in overrides.items() if k != "dataset"})
    except ConfigError as error:
        raise ParameterError(f"train_overrides: {error}") from None
    return overrides
