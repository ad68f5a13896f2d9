"""Interactive explorers for JupyterLab (ipywidgets), one line each in a notebook.

* :func:`alpha_explorer`: one search run, an epoch slider and play button; softmax(α)
  heatmaps, op weights and the cells derived at that epoch (Eq. 8 and the DARTS
  derivation rule), with conv counts and the evaluation network's size.
* :func:`method_explorer`: the stored runs of several settings (single-level, MiLeNAS
  λ values, bilevel, switch, Gumbel rules); pick settings, seeds and a metric, see
  mean ± std bands with n stated.
* :func:`live_search`: λ of Eq. 5 on a slider and a tiny CPU search that redraws its
  curves after every epoch.

Each explorer shows its picture twice over in one output: the live widget, and
a PNG of its first state that static renderers (papermill's executed copies,
nbconvert, GitHub) show instead.  Callbacks print into an ``Output`` widget, so
their messages and errors appear in the cell.

This package sits above :mod:`milenas_lib.experiments` and :mod:`milenas_lib.plots`
(it runs searches and reduces frames, which ``plots`` must not).
"""
from .live import live_search
from .runs import METRICS, alpha_explorer, fig_alpha_epoch, fig_metric, method_explorer

__all__ = ["METRICS", "alpha_explorer", "fig_alpha_epoch", "fig_metric", "live_search", "method_explorer"]
