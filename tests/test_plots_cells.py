"""Cell diagrams (Fig. 4 style) laid out by depth with labels that never overlap,
the print style that leaves interactive mode alone, and tables shown whole."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from milenas_lib.plots.cells import arc_points, cell_layout, draw_cell, fig_genotype, node_depths  # noqa: E402
from milenas_lib.plots.style import PRINT_STYLE, print_style, show_table  # noqa: E402
from milenas_lib.space import GENOTYPES  # noqa: E402
from milenas_lib.space.operations import PRIMITIVES  # noqa: E402

OPS = [p for p in PRIMITIVES if p != "none"]


@st.composite
def cells(draw):
    """Any valid cell: two distinct earlier inputs per node, any op but none."""
    edges = []
    for node in range(2, 6):
        for source in draw(st.lists(st.integers(0, node - 1), min_size=2, max_size=2, unique=True)):
            edges.append((draw(st.sampled_from(OPS)), source))
    return edges


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _check_layout(edges) -> None:
    layout = cell_layout(edges)
    labels = [box for _, box in layout.labels]
    assert len(labels) == len(edges)
    for a, b in itertools.combinations(labels, 2):
        assert not _overlap(a, b), (a, b)
    for label, node in itertools.product(labels, layout.boxes.values()):
        assert not _overlap(label, node), (label, node)
    for _, source, target, rad in layout.edges:  # arcs pass no node they do not join
        points = arc_points(layout.centres[source], layout.centres[target], rad, np.linspace(0.05, 0.95, 60))
        for key, (x0, y0, x1, y1) in layout.boxes.items():
            if key not in (source, target):
                inside = (points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1)
                assert not inside.any(), (source, target, key)


def test_columns_follow_the_longest_path_and_keep_node_order():
    reduce = GENOTYPES["MILENAS_2_34"].reduce  # node 0 from the inputs, 1 and 3 from node 0, 2 from 0 and 1
    depth = node_depths(reduce)
    assert depth == {0: 0, 1: 0, 2: 1, 3: 2, 4: 3, 5: 2, "out": 4}
    layout = cell_layout(reduce)
    xs = {key: layout.centres[key][0] for key in depth}
    for a, b in itertools.permutations(depth, 2):
        if depth[a] < depth[b]:
            assert xs[a] < xs[b]
        if depth[a] == depth[b] and str(a) < str(b):  # same column: index order from the top
            assert xs[a] == xs[b] and layout.centres[a][1] > layout.centres[b][1]


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_registered_cells_have_no_overlapping_labels(name):
    _check_layout(GENOTYPES[name].normal)
    _check_layout(GENOTYPES[name].reduce)


@settings(max_examples=40, deadline=None)
@given(cells())
def test_any_cell_has_no_overlapping_labels(edges):
    _check_layout(edges)


@pytest.mark.parametrize("name", ["MILENAS_2_34", "MILENAS_2_50"])
def test_drawn_fig4_cells_overlap_nowhere_on_the_canvas(name):
    """What the renderer draws: label boxes (zorder 5) clear each other and the nodes (zorder 3)."""
    fig = fig_genotype(GENOTYPES[name], name)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = {z: [p.get_window_extent(renderer).extents for p in ax.patches
                     if isinstance(p, FancyBboxPatch) and p.get_zorder() == z] for z in (3, 5)}
        assert len(boxes[5]) == 8 and len(boxes[3]) == 7
        for a, b in itertools.combinations(boxes[5], 2):
            assert not _overlap(a, b)
        for a, b in itertools.product(boxes[5], boxes[3]):
            assert not _overlap(a, b)


def test_draw_cell_returns_its_layout_and_fits_the_axes():
    fig = fig_genotype(GENOTYPES["DARTS_V2"], "t")
    layout = draw_cell(fig.axes[0], GENOTYPES["DARTS_V2"].normal)
    x0, y0, x1, y1 = layout.bounds
    left, right = fig.axes[0].get_xlim()
    bottom, top = fig.axes[0].get_ylim()
    assert left <= x0 and right >= x1 and bottom <= y0 and top >= y1


def test_print_style_leaves_interactive_mode_on():
    """The inline backend switches interactive mode on when the first figure loads it;
    leaving the style must not switch it off again (later figures would not show)."""
    was = mpl.is_interactive()
    try:
        mpl.interactive(False)
        with print_style():
            assert mpl.rcParams["axes.titlesize"] == PRINT_STYLE["axes.titlesize"]
            mpl.interactive(True)  # as matplotlib_inline does on first use
        assert mpl.is_interactive()
        assert mpl.rcParams["axes.titlesize"] != PRINT_STYLE["axes.titlesize"] or \
            mpl.rcParamsDefault["axes.titlesize"] == PRINT_STYLE["axes.titlesize"]
        with print_style():
            pass
        assert mpl.is_interactive()
    finally:
        mpl.interactive(was)


def test_tables_show_whole_text_without_index():
    long = "the gap of single-level exceeds the gap of every MiLeNAS setting and of bilevel"
    frame = pd.DataFrame({"claim": [long], "holds": [True], "value": [1.23456]}, index=[7])
    table = show_table(frame, precision=2)
    text = repr(table)
    assert long in text and "1.23" in text and "1.2346" not in text and "'" not in text
    assert not text.splitlines()[1].lstrip().startswith("7")  # no index column
    html = table._repr_html_()
    assert long in html and ">7<" not in html
