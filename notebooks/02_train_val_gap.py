# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
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

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
seeds = None              # None: the preset's default ([0] for smoke, [0, 1, 2, 3] for paper)
device = "auto"           # "auto", "cpu" or "cuda"
data_root = None          # folder holding CIFAR-10; None: the kit's usual places (README, Data)
search_overrides = {}     # SearchConfig fields to change, e.g. {"epochs": 10}
reuse_only = False        # True: rebuild figures and tables from stored runs only, never train
smooth_window = None      # moving average (epochs) for panel (a); None: 5 for paper, 1 otherwise
output_root = None        # None: this checkout (results/ and figures/ in the repository)

# %%
from milenas_lib import experiments as ex
from milenas_lib import plots

out = ex.notebook_outputs("02_train_val_gap", preset, output_root, seeds=seeds, search_overrides=search_overrides)
records = ex.search_runs(ex.FIG2_SETTINGS, seeds, preset, output_root=output_root, overrides=search_overrides,
                         device=device, data_root=data_root, reuse_only=reuse_only)
epochs = ex.records_frame(records)
detail = ex.figure_detail(records, preset)
detail

# %% [markdown]
# ## The figure
# Panel (a): the gap over the search, mean over seeds (± std band when there are
# several). Panel (b): the gap at the last epoch, each seed a dot.

# %%
fig = plots.fig_train_val_gap(epochs, ex.FIG2_SETTINGS, detail, ex.smoothing_window(preset, smooth_window))
out.save_figure(fig, "fig2_train_val_gap", "Fig. 2: train minus search-val accuracy over the search, "
                "single-level, MiLeNAS λ = 0.1, 1, 999 and bilevel (2nd-order DARTS)", records)

# %% [markdown]
# ## The numbers
# Last-epoch accuracies (%) and gap (percentage points), mean ± std over seeds.

# %%
final = ex.final_table(epochs)
out.save_table(final, "fig2_final_epoch", "Fig. 2: last-epoch train/search-val accuracy and gap per setting",
               records)
final

# %%
summary = ex.mean_std(epochs, "gap")
out.save_table(summary, "fig2_train_val_gap", "Fig. 2 data: gap (pp) per setting and epoch, mean/std/n over seeds",
               records)
out.save_table(epochs.drop(columns=["genotype"]), "fig2_epochs", "Per-run, per-epoch search records of Fig. 2",
               records)

# %% [markdown]
# ## The paper's claims, checked on these runs
# With the `smoke` preset (two epochs on a few hundred images, one seed) this table
# shows that the pipeline runs end to end; it is no evidence for or against the paper.
# Use `preset="paper"` (50 epochs, 4 seeds, a GPU) for that.

# %%
claims = ex.fig2_claims(epochs)
out.save_table(claims, "fig2_claims", "Fig. 2 claims of the paper against these runs", records)
claims
