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
from typing import Any, Mapping, Optional, Sequence

from ..config import ConfigError, train_config
from ..presets import PRESETS as PRESET_TABLE
from ..presets import Preset
from ..names import DEVICES, check_choice
from ..records.provenance import DeviceUnavailableError, REPO_ROOT
from ..records.provenance import resolve_device as torch_device
from ..paper.settings import SETTINGS, Setting

PRESETS: tuple[str, ...] = tuple(PRESET_TABLE)
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


def resolve_choice(value: Any, name: str, valid: Sequence[str]) -> str:
    """A notebook parameter that names one of ``valid`` (preset, device, backend, method, dtype):
    the kit's one choice check (``names.check_choice``), failing as a :class:`ParameterError`."""
    return check_choice(value, name, valid, ParameterError)


def resolve_preset(preset: Any) -> str:
    return resolve_choice(preset, "preset", PRESETS)


def preset_named(preset: str) -> Preset:
    """The :class:`~milenas_lib.presets.Preset` behind a notebook's ``preset`` parameter."""
    return PRESET_TABLE[resolve_preset(preset)]


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
    if seeds is None:  # the paper ran every setting 4 times (§3.2); smoke runs once to stay within minutes
        return list(preset_named(preset).seeds)
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
    resolve_choice(device, "device", DEVICES)
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
    """Fig. 2's moving average (epochs): ``window``, else the preset's (the paper's curves are smoothed)."""
    return int(window) if window else preset_named(preset).smoothing_window


def trajectory_points(preset: str, points: Optional[int] = None) -> int:
    """Measured states along the search, start and end included: ``points``, else the preset's."""
    return int(points) if points else preset_named(preset).trajectory_points


#: ε of notebook 8's panel (c): DARTS' 0.01 down to where float64 round-off takes over.
SWEEP_EPSILONS: tuple[float, ...] = tuple(10.0 ** -k for k in range(1, 11))

def train_overrides_for(preset: str, dataset: str, overrides: Any = None) -> dict:
    """``overrides``, or the notebook default of the preset when it is None."""
    if literal(overrides) is None:
        return preset_named(preset).notebook_training(dataset)
    return resolve_overrides(overrides, "train_overrides")


def genotype_choice(names: Any, preset: str, table: int) -> list[str]:
    """``names``, or the genotypes the preset's Table ``table`` (1: CIFAR-10, 2: ImageNet) trains."""
    chosen = resolve_names(names, "genotypes")
    if chosen is not None:
        return chosen
    named = preset_named(preset)
    return list(named.table1_genotypes if table == 1 else named.table2_genotypes)


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
