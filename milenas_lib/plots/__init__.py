"""Figures of the paper, in one print-readable style (PNG and PDF are saved by
:class:`milenas_lib.experiments.NotebookOutputs`)."""
from .cells import OP_COLORS, draw_cell, fig_genotype
from .figures import (EDGE_LABELS, alpha_explorer, band_plot, draw_alpha_heatmap, fig_alpha_heatmaps,
                      fig_gradient_error, fig_gumbel, fig_learning_curves, fig_model_size, fig_op_weights,
                      fig_relaxation, fig_search_time, fig_search_val_accuracy, fig_table1, fig_table2, fig_train_val_gap)
from .style import PRINT_STYLE, figure, print_style, titled

__all__ = ["EDGE_LABELS", "OP_COLORS", "PRINT_STYLE", "alpha_explorer", "band_plot", "draw_alpha_heatmap",
           "draw_cell", "fig_alpha_heatmaps", "fig_genotype", "fig_gradient_error", "fig_gumbel",
           "fig_learning_curves", "fig_model_size", "fig_op_weights", "fig_relaxation", "fig_search_time",
           "fig_search_val_accuracy", "fig_table1", "fig_table2", "figure", "print_style", "titled"]
