# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 2: the train-validation gap
#
# The paper (§3.2, Fig. 2) runs five settings four times each for 50 epochs and
# plots the gap between training and search-validation accuracy (averaged, smoothed):
# single-level (α from the training loss only), MiLeNAS with λ = 0.1, 1, 999, and
# bilevel (2nd-order DARTS). Its claim: **single-level has the largest gap, bilevel
# the smallest, and MiLeNAS lies between them, ordered by λ**, which is how the paper
# argues that single-level and bilevel are the λ = 0 and λ → ∞ ends of one family.
#
# The runs live in the shared run store `results/runs/<preset>/`; notebooks 3 and 5
# read the same runs, and a finished run is read back, never trained twice.

# %% [markdown]
# **How to read it.** One curve per setting: train minus search-val accuracy in percentage
# points over the epochs, the mean over seeds with a ± std band (n in the legend). The table
# after the figure checks the paper's ordering at the last epoch; notebook 10 gives each
# comparison a 95 % interval and a verdict.
#
# **What to try.** `-p seeds '[0,1,2]'` for bands; `-p preset medium -p reuse_only True` to draw
# the committed medium records without training; the method explorer to toggle settings,
# seeds and the metric.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
smooth_window = None      # moving average (epochs) for panel (a); None: 5 for paper, 1 otherwise
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, explorers, plots

nb = ex.open_notebook("02_train_val_gap", globals())

# %%
records = nb.runs()
epochs = ex.records_frame(records)
detail = nb.detail(records)
print(detail)

# %% [markdown]
# ## The figure
# Panel (a): the gap over the search, mean over seeds (± std band when there are
# several). Panel (b): the gap at the last epoch, each seed a dot.

# %%
curves = ex.curves(epochs, ["gap"], nb.smooth_window)
fig = plots.fig_train_val_gap(curves, ex.final_epoch(epochs), ex.FIG2_SETTINGS, detail, nb.smooth_window)
nb.save_figure(fig, "fig2_train_val_gap", "Fig. 2: train minus search-val accuracy over the search, "
                "single-level, MiLeNAS λ = 0.1, 1, 999 and bilevel (2nd-order DARTS)", records)

# %% [markdown]
# ## Explore the runs
# Toggle settings and seeds, pick a metric (accuracies, gap, losses, α entropy, skip
# connections): mean ± std over the chosen seeds, n in the legend.

# %%
explorers.method_explorer(records, metric="gap")

# %% [markdown]
# ## The numbers
# Last-epoch accuracies (%) and gap (percentage points), mean ± std over seeds.

# %%
final = ex.final_table(epochs)
nb.save_table(final, "fig2_final_epoch", "Fig. 2: last-epoch train/search-val accuracy and gap per setting",
               records)
plots.show_table(final)

# %%
summary = ex.mean_std(epochs, "gap")
nb.save_table(summary, "fig2_train_val_gap", "Fig. 2 data: gap (pp) per setting and epoch, mean/std/n over seeds",
               records)
nb.save_table(epochs.drop(columns=["genotype"]), "fig2_epochs", "Per-run, per-epoch search records of Fig. 2",
               records)

# %% [markdown]
# ## The paper's claims, checked on these runs
# With the `smoke` preset (two epochs on a few hundred images, one seed) this table
# shows that the pipeline runs end to end; it is no evidence for or against the paper.
# Use `preset="paper"` (50 epochs, 4 seeds, a GPU) for that.

# %%
claims = ex.fig2_claims(epochs)
nb.save_table(claims, "fig2_claims", "Fig. 2 claims of the paper against these runs", records)
plots.show_table(claims)
