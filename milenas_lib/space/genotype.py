"""Genotypes: the discrete cells a search derives, as small validated values.

A cell has two input nodes (0, 1: the outputs of the two previous cells) and
four intermediate nodes (2..5).  Intermediate node ``k`` takes exactly two
edges ``(op, input)`` with ``input < k``; the cell output concatenates nodes
2..5 (paper, Appendix A).  A genotype holds a normal and a reduction cell.

Text form (one line, also what ``str()`` prints)::

    normal: sep_conv_3x3(0) sep_conv_3x3(1) | ... ; reduce: max_pool_3x3(0) ...

JSON form: ``{"normal": [["sep_conv_3x3", 0], ...], "reduce": [...]}``.

A search's architecture parameters α become a genotype here too
(:func:`derive_genotype`, DARTS' rule), so what a cell may hold and how a
search picks one are read in one place.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..names import unknown_name_message
from .operations import CONV_OPS, NONE_INDEX, PRIMITIVES

NUM_NODES = 4
EDGES_PER_NODE = 2
CELL_OUTPUTS: tuple[int, ...] = tuple(range(2, 2 + NUM_NODES))

Edge = tuple[str, int]


class GenotypeError(ValueError):
    """A genotype that does not describe a valid cell; the message says why."""


def _validate_cell(kind: str, edges: Sequence[Edge]) -> tuple[Edge, ...]:
    if len(edges) != NUM_NODES * EDGES_PER_NODE:
        raise GenotypeError(
            f"{kind} cell needs {NUM_NODES * EDGES_PER_NODE} edges ({EDGES_PER_NODE} for each of "
            f"{NUM_NODES} nodes), got {len(edges)}"
        )
    checked: list[Edge] = []
    for position, edge in enumerate(edges):
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            raise GenotypeError(f"{kind} edge {position} must be a pair (op, input), got {edge!r}")
        op, source = edge
        node = 2 + position // EDGES_PER_NODE
        if op not in PRIMITIVES or op == "none":
            raise GenotypeError(
                f"{kind} edge {position}: "
                + unknown_name_message("operation", op, [p for p in PRIMITIVES if p != "none"])
            )
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < node:
            raise GenotypeError(
                f"{kind} edge {position} feeds node {node}, so its input must be an integer in "
                f"0..{node - 1}, got {source!r}"
            )
        checked.append((str(op), int(source)))
    return tuple(checked)


@dataclass(frozen=True)
class Genotype:
    """An immutable, validated pair of cells (normal, reduce)."""

    normal: tuple[Edge, ...]
    reduce: tuple[Edge, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _validate_cell("normal", self.normal))
        object.__setattr__(self, "reduce", _validate_cell("reduce", self.reduce))

    # -- counts -----------------------------------------------------------
    @property
    def conv_counts(self) -> tuple[int, int]:
        """Convolution ops (sep/dil convs) in the normal and reduce cell: the
        model-size bucket ``(n, r)`` of the paper's Fig. 6."""
        return (
            sum(op in CONV_OPS for op, _ in self.normal),
            sum(op in CONV_OPS for op, _ in self.reduce),
        )

    def count(self, op_name: str) -> int:
        """How often ``op_name`` appears in both cells (e.g. skip connections)."""
        return sum(op == op_name for op, _ in self.normal + self.reduce)

    # -- JSON -------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"normal": [list(e) for e in self.normal], "reduce": [list(e) for e in self.reduce]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping) -> "Genotype":
        if not isinstance(data, Mapping) or "normal" not in data or "reduce" not in data:
            raise GenotypeError('a genotype JSON object needs the keys "normal" and "reduce"')
        cells = {}
        for kind in ("normal", "reduce"):
            edges = data[kind]
            if not isinstance(edges, (list, tuple)) or not all(isinstance(e, (list, tuple)) for e in edges):
                raise GenotypeError(f'genotype "{kind}" must be a list of [op, input] pairs, got {edges!r:.80}')
            cells[kind] = tuple(map(tuple, edges))
        return cls(**cells)

    @classmethod
    def from_json(cls, text: str) -> "Genotype":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise GenotypeError(f"genotype JSON is malformed: {err}") from None
        return cls.from_dict(data)

    # -- text -------------------------------------------------------------
    def to_text(self) -> str:
        def cell(edges: tuple[Edge, ...]) -> str:
            nodes = [edges[i:i + EDGES_PER_NODE] for i in range(0, len(edges), EDGES_PER_NODE)]
            return " | ".join(" ".join(f"{op}({src})" for op, src in node) for node in nodes)

        return f"normal: {cell(self.normal)} ; reduce: {cell(self.reduce)}"

    __str__ = to_text

    @classmethod
    def from_text(cls, text: str) -> "Genotype":
        match = re.fullmatch(r"\s*normal:(?P<normal>[^;]*);\s*reduce:(?P<reduce>[^;]*)", text)
        if not match:
            raise GenotypeError(f"genotype text must read 'normal: ... ; reduce: ...', got {text!r}")

        def cell(part: str) -> tuple[Edge, ...]:
            tokens = part.replace("|", " ").split()
            edges = []
            for token in tokens:
                m = re.fullmatch(r"(\w+)\((\d+)\)", token)
                if not m:
                    raise GenotypeError(f"genotype edge must read 'op(input)', got {token!r}")
                edges.append((m.group(1), int(m.group(2))))
            return tuple(edges)

        return cls(normal=cell(match["normal"]), reduce=cell(match["reduce"]))


def _cell(spec: str) -> tuple[Edge, ...]:
    """Expand the shorthand ``"sep3 0, skip 1"`` (op, input node) into edges."""
    short = {"sep3": "sep_conv_3x3", "sep5": "sep_conv_5x5", "dil3": "dil_conv_3x3", "dil5": "dil_conv_5x5",
             "max": "max_pool_3x3", "avg": "avg_pool_3x3", "skip": "skip_connect"}
    edges = []
    for item in spec.split(","):
        op, src = item.split()
        edges.append((short[op], int(src)))
    return tuple(edges)


#: The genotypes behind the paper's results (Table 1, Figs. 4-5) and DARTS' V1/V2.
GENOTYPES: dict[str, Genotype] = {
    "DARTS_V1": Genotype(
        normal=_cell("sep3 1, sep3 0, skip 0, sep3 1, skip 0, sep3 1, sep3 0, skip 2"),
        reduce=_cell("max 0, max 1, skip 2, max 0, max 0, skip 2, skip 2, avg 0"),
    ),
    "DARTS_V2": Genotype(
        normal=_cell("sep3 0, sep3 1, sep3 0, sep3 1, sep3 1, skip 0, skip 0, dil3 2"),
        reduce=_cell("max 0, max 1, skip 2, max 1, max 0, skip 2, skip 2, max 1"),
    ),
    "MILENAS_2_34": Genotype(
        normal=_cell("sep3 1, sep3 0, dil3 0, sep3 1, skip 0, sep3 1, sep3 0, sep5 1"),
        reduce=_cell("dil3 0, sep3 1, skip 2, max 0, skip 2, dil5 3, skip 2, max 0"),
    ),
    "MILENAS_2_50": Genotype(
        normal=_cell("sep3 0, sep3 1, skip 0, sep3 1, skip 0, skip 1, skip 0, sep5 1"),
        reduce=_cell("max 0, max 1, max 0, skip 2, skip 2, avg 0, avg 0, skip 2"),
    ),
    "MILENAS_2_80": Genotype(
        normal=_cell("skip 0, sep3 1, sep3 0, sep3 1, skip 0, sep3 1, skip 0, skip 1"),
        reduce=_cell("max 0, max 1, max 0, sep3 2, avg 1, skip 2, skip 2, max 0"),
    ),
    "MILENAS_2_76": Genotype(
        normal=_cell("sep3 0, skip 1, skip 0, skip 2, sep3 0, skip 2, max 0, skip 2"),
        reduce=_cell("max 0, max 1, avg 0, max 1, max 0, skip 2, max 0, skip 2"),
    ),
    "MILENAS_GUMBEL": Genotype(
        normal=_cell("dil3 0, sep3 1, sep3 0, dil5 2, sep5 0, sep5 3, sep3 4, dil3 2"),
        reduce=_cell("avg 1, skip 0, skip 2, sep5 0, sep3 3, sep3 0, max 0, skip 4"),
    ),
}


def _check_finished_search(path: Path, record: Mapping) -> None:
    """Only a finished search's genotype is its result; an interrupted or failed
    one holds the genotype of some earlier epoch (or of the initial α)."""
    failure = record.get("failure")
    if failure:
        raise GenotypeError(f"search record {path} is of a failed search ({' '.join(str(failure).split())}); "
                            "use a finished search's record.json")
    if record.get("completed") is not True:
        planned = (record.get("config") or {}).get("epochs", "?")
        raise GenotypeError(f"search record {path} is unfinished ({len(record.get('epochs') or [])} of {planned} "
                            "epochs); rerun its search command to finish it, then train from the record")


def resolve_genotype(name_or_source: str | Path | Genotype) -> Genotype:
    """A registered name, a path to a genotype JSON file, inline JSON, or text.

    An unknown name lists the registered ones.
    """
    if isinstance(name_or_source, Genotype):
        return name_or_source
    source = str(name_or_source).strip()
    if source in GENOTYPES:
        return GENOTYPES[source]
    if source.startswith("{"):
        return Genotype.from_json(source)
    if source.startswith("normal:"):
        return Genotype.from_text(source)
    path = Path(source)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise GenotypeError(f"genotype file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise GenotypeError(f"genotype file {path} is not valid JSON text: {err}") from None
        if isinstance(data, Mapping) and data.get("kind") == "search":
            _check_finished_search(path, data)
        if isinstance(data, Mapping) and "genotype" in data and "normal" not in data:
            data = data["genotype"]  # a search record.json holds its final genotype under this key
        try:
            return Genotype.from_dict(data)
        except GenotypeError as err:
            raise GenotypeError(f"genotype file {path}: {err}") from None
    raise GenotypeError(unknown_name_message("genotype", source, list(GENOTYPES)) +
                        " (or give a genotype JSON file)")


def genotype_names() -> Iterable[str]:
    return GENOTYPES.keys()


# ---------------------------------------------------------------------------
# Derivation: the discrete cells a search's α stand for.

def derive_cell(alpha: torch.Tensor) -> tuple[Edge, ...]:
    """The DARTS rule: per node keep the two incoming edges whose strongest
    non-``none`` op weighs most, and on each the strongest non-``none`` op.
    A node's two edges are listed strongest first (DARTS' order)."""
    probs = F.softmax(alpha.detach().float().cpu(), dim=-1)
    probs[:, NONE_INDEX] = -1.0  # never chosen
    edges: list[Edge] = []
    start = 0
    for node in range(NUM_NODES):
        n_inputs = 2 + node
        block = probs[start:start + n_inputs]
        strength, best_op = block.max(dim=-1)
        # Strongest edge first, as DARTS lists them (and the paper's genotypes);
        # the sort is stable, so ties go to the earlier input.
        keep = sorted(range(n_inputs), key=lambda j: -strength[j].item())[:EDGES_PER_NODE]
        edges.extend((PRIMITIVES[best_op[j].item()], j) for j in keep)
        start += n_inputs
    return tuple(edges)


def derive_genotype(alpha_normal: torch.Tensor, alpha_reduce: torch.Tensor) -> Genotype:
    """The genotype a search's two (14, 8) α tensors stand for (:func:`derive_cell` on each)."""
    return Genotype(normal=derive_cell(alpha_normal), reduce=derive_cell(alpha_reduce))
