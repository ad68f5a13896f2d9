"""What a notebook is, declared once: its parameters, the runs it needs, the files it writes.

One :class:`NotebookSpec` per notebook (the kit's in
:mod:`.notebook_specs`; a folder of one's own notebooks may hold a
``notebook_specs.py`` with its own ``SPECS``).  Everything that needs to
know a notebook reads its spec and nothing else:

* the notebook itself: ``nb = ex.open_notebook("02_train_val_gap", globals())``
  takes whatever its ``parameters`` cell (or papermill) set, checks every
  value with the spec's readers, and fills the rest with the spec's defaults;
  ``nb.runs()`` then gives it the runs the spec declares (``spec.runs.fetch``),
  and its ``nb.save_*`` calls may write only the outputs the spec lists;
* ``python -m milenas_lib plan`` and ``make reproduce``'s pre-pass ask
  ``spec.runs.needs(parameters)`` for the same runs, with the same folders,
  without running them;
* ``make reproduce`` injects the parameters the spec declares and checks
  that the notebook wrote ``spec.figures`` and ``spec.tables``.

Adding a notebook is therefore one spec plus the notebook.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from ..config import ConfigError, search_config
from ..executor.runs import BACKENDS
from ..names import DEVICES
from ..records.errors import OneLine
from .params import (PRESETS, ParameterError, check_device, literal, resolve_choice, resolve_flag, resolve_folder,
                     resolve_number, resolve_overrides, resolve_preset, resolve_seeds)

Reader = Callable[[Any, str], Any]   # (value as papermill passes it, preset) -> the checked value


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter: its default, how a given value is read and checked, and what it means."""

    name: str
    default: Any
    read: Reader
    help: str


def _search_overrides(value: Any, preset: str) -> dict:
    """A mapping of SearchConfig fields, checked against the preset's config."""
    overrides = resolve_overrides(value, "search_overrides")
    try:
        search_config(preset, **overrides)
    except ConfigError as error:
        raise ParameterError(f"search_overrides: {error}") from None
    return overrides


def _output_root(value: Any, preset: str) -> Optional[str]:
    return None if literal(value) in (None, "") else str(value)


#: The parameters every notebook has (notebooks/README.md, Parameters).
COMMON_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("preset", "smoke", lambda v, preset: resolve_preset(v),
              f"one of {', '.join(PRESETS)}: CPU minutes, CPU hours (the committed evidence's scale), or the "
              "paper's protocol (a GPU)"),
    Parameter("seeds", None, lambda v, preset: resolve_seeds(v, preset),
              "None: the preset's default ([0] for smoke, [0, 1, 2] for medium, [0, 1, 2, 3] for paper)"),
    Parameter("device", "auto", lambda v, preset: check_device(v), " or ".join(map(repr, DEVICES))),
    Parameter("data_root", None, lambda v, preset: resolve_folder(v, "data_root"),
              "folder holding CIFAR-10; None: the kit's usual places"),
    Parameter("search_overrides", {}, _search_overrides,
              "SearchConfig fields to change, e.g. {'epochs': 10}"),
    Parameter("reuse_only", False, lambda v, preset: resolve_flag(v, "reuse_only"),
              "True: rebuild figures and tables from stored runs only, never train"),
    Parameter("output_root", None, _output_root, "None: this checkout (results/ and figures/)"),
    # How missing runs are trained (milenas_lib/executor/, docs/SCALING.md).
    Parameter("workers", None, lambda v, preset: resolve_number(v, "workers", int, 1, True),
              "runs at a time; None: every CPU core or 4 per GPU"),
    Parameter("backend", "local", lambda v, preset: resolve_choice(v, "backend", BACKENDS), " or ".join(BACKENDS)),
    Parameter("address", None, lambda v, preset: None if literal(v) in (None, "") else str(v),
              "backend ray: the cluster to join; None: a local Ray instance"),
    Parameter("plan_only", False, lambda v, preset: resolve_flag(v, "plan_only"),
              "True: print the runs this notebook needs and their cost, and run nothing"),
    Parameter("tensorboard", None, lambda v, preset: None if literal(v) in (None, "") else str(Path(str(v)).expanduser()),
              "a folder: each search's curves, step times and α heatmaps as TensorBoard events, from its record"),
)


class NotebookParameters:
    """A notebook's parameters, every one read and checked (attributes: ``nb.preset``, ``nb.lam``, ...)."""

    def __init__(self, name: str, values: Mapping[str, Any]):
        self.name = name
        self.values = dict(values)

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(f"notebook {self.__dict__.get('name')} declares no parameter {key!r}")

    @property
    def own(self) -> dict:
        """The notebook's own parameters (besides the common ones), as checked."""
        common = {p.name for p in COMMON_PARAMETERS}
        return {key: value for key, value in self.values.items() if key not in common}


class Runs:
    """What a notebook runs, declared once in its spec (the kinds: :mod:`.needs`).

    :meth:`needs` lists the runs for the plan and ``make reproduce``'s pre-pass without running
    anything; :meth:`fetch` gives the notebook its results (``nb.runs()``), read back from the
    same run-store folders or trained there.  This base declares no runs."""

    def needs(self, nb: NotebookParameters, resolve_data: bool = False) -> list:
        """The runs, as :class:`.needs.Need` items (``resolve_data``: the pre-pass may extract data to
        know a folder; the plan only names it)."""
        return []

    def fetch(self, notebook: Any) -> Any:
        """The results the notebook's later cells use, from the :class:`.notebook.Notebook` context."""
        return []


NO_RUNS = Runs()


class UndeclaredOutput(OneLine, ValueError):
    """A notebook saved a figure, table or report its spec does not list (``make reproduce``
    checks, and the index shows, only what the spec lists)."""


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook: its own parameters (besides :data:`COMMON_PARAMETERS`), the
    runs it needs as a function of its checked parameters, and what it writes.

    ``runs`` is a :class:`Runs` declaration (:mod:`.needs`: ``Searches``, ``Evaluation``,
    ``GradientSearch``).  ``figures`` are written as ``figures/<preset>/<name>.png``
    and ``.pdf``; ``tables`` as ``results/<preset>/<notebook>/<name>.csv``, or
    ``results/<preset>/tables/<name>.csv`` when given as ``tables/<name>``;
    ``reports`` as ``results/<preset>/<name>.md`` and ``.json``."""

    name: str
    parameters: tuple[Parameter, ...] = ()
    runs: Runs = field(default=NO_RUNS, repr=False)
    figures: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    run_first: bool = False            # executed before the others (its run becomes the store's own)
    note: Optional[Callable[[NotebookParameters], Optional[str]]] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.runs, Runs):  # e.g. a function of an older spec: nb.runs() could not fetch it
            raise TypeError(f"notebook {self.name}: runs must be a run declaration of milenas_lib.experiments.needs "
                            f"(Searches, Evaluation, GradientSearch), got {self.runs!r}")

    @property
    def all_parameters(self) -> dict[str, Parameter]:
        return {p.name: p for p in (*COMMON_PARAMETERS, *self.parameters)}

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.all_parameters.items()}

    def check(self, values: Mapping[str, Any], *, ignore_unknown: bool = False) -> NotebookParameters:
        """Every parameter read from ``values`` (its default where absent), the preset
        first; an unknown name (unless ``ignore_unknown``) or a bad value is one
        :class:`ParameterError` line naming it."""
        declared = self.all_parameters
        unknown = sorted(set(values) - set(declared))
        if unknown and not ignore_unknown:
            raise ParameterError(f"notebook {self.name} declares no parameter(s) {unknown}; "
                                 f"its parameters: {', '.join(declared)}")
        given = {**self.defaults(), **{k: v for k, v in values.items() if k in declared}}
        preset = declared["preset"].read(given["preset"], "")
        return NotebookParameters(self.name, {name: p.read(given[name], preset) for name, p in declared.items()})

    def outputs(self, preset: str = "smoke") -> list[str]:
        """Every file the notebook writes with ``preset``, relative to the output root."""
        files = [f"figures/{preset}/{name}.{ext}" for name in self.figures for ext in ("png", "pdf")]
        files += [f"results/{preset}/{name}.csv" if "/" in name else f"results/{preset}/{self.name}/{name}.csv"
                  for name in self.tables]
        return files + [f"results/{preset}/{name}.{ext}" for name in self.reports for ext in ("md", "json")]

    def check_output(self, kind: str, name: str) -> None:
        """Refuse to write ``name`` (``tables/<name>`` for a paper table) unless this spec lists it among
        its ``kind`` (``figures``, ``tables`` or ``reports``): one line naming the declared ones."""
        declared = getattr(self, kind)
        if name not in declared:
            raise UndeclaredOutput(f"notebook {self.name} declares no {kind[:-1]} {name!r}; its {kind}: "
                                   f"{', '.join(declared) or 'none'} (add it to the notebook's spec)")

    def missing_outputs(self, root: Path, preset: str = "smoke") -> list[str]:
        return [path for path in self.outputs(preset) if not (Path(root) / path).exists()]
