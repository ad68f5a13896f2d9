"""Figures of the paper, in one print-readable style (PNG and PDF are saved by
the notebook context, :class:`milenas_lib.experiments.Notebook`).

``plots`` draws; it computes nothing.  Figures take the reduced frames of
:mod:`milenas_lib.paper.frames` and read only the settings (labels, colours)
and the paper's quoted numbers from :mod:`milenas_lib.paper`: never the
notebook runtime, so importing the figures loads no search, executor or data.
"""
from .alpha import EDGE_LABELS, draw_alpha_heatmap, fig_alpha_heatmaps, fig_op_weights, fig_relaxation
from .cells import OP_COLORS, draw_cell, fig_genotype
from .claims import fig_claims
from .gradients import fig_gradient_error
from .search import (band_plot, fig_gumbel, fig_learning_curves, fig_model_size, fig_search_time,
                     fig_search_val_accuracy, fig_train_val_gap)
from .style import PRINT_STYLE, Table, figure, print_style, show_table, styled, titled
from .tables import fig_table1, fig_table2

__all__ = ["EDGE_LABELS", "OP_COLORS", "PRINT_STYLE", "band_plot", "draw_alpha_heatmap",
           "draw_cell", "fig_alpha_heatmaps", "fig_claims", "fig_genotype", "fig_gradient_error", "fig_gumbel",
           "fig_learning_curves", "fig_model_size", "fig_op_weights", "fig_relaxation", "fig_search_time",
           "fig_search_val_accuracy", "fig_table1", "fig_train_val_gap", "fig_table2", "figure", "print_style", "show_table",
           "styled", "titled", "Table"]
