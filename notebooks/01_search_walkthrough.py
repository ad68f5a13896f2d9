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
# # A MiLeNAS search, step by step
#
# One search with MiLeNAS (Eq. 5): every step moves the weights w along
# `∇w L_tr(w, α)` and the architecture parameters α along
# `∇α L_tr(w, α) + λ ∇α L_val(w, α)`. This notebook follows α through the search
# (heatmaps of softmax(α) for every edge and operation), shows how the weight moves
# between operations, and draws the cells derived from α, DARTS style (Fig. 4):
# per intermediate node keep the two strongest incoming edges, on each the strongest
# operation other than `none`.
#
# The last cell is an explorer: an epoch slider (and play button) over α, the
# operation weights and the derived cells. In JupyterLab it is live; a static copy of
# the notebook (papermill, nbconvert) shows its picture at the last epoch.

# %% [markdown]
# **How to read it.** In the α heatmaps each row is an edge (input → node), each column an
# operation, and the colour the softmax weight Eq. 8 gives it; the colour scale spans only the
# values reached, so small moves show. The operation-weight plot follows each operation's mean
# weight over the epochs (skip connections thick). The cells keep, per node, the two strongest
# incoming edges and on each the strongest operation other than `none`.
#
# **What to try.** `-p lam 0.1` or `-p lam 999` (α driven more by the training or by the
# validation loss); `search_overrides = {"epochs": 6}` for a longer search; the epoch slider of
# the explorer at the end.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
lam = 1.0                 # λ of Eq. 5 (a stored run of another λ is read back when it exists)
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, explorers, plots, space

nb = ex.open_notebook("01_search_walkthrough", globals())

# %%
record = nb.runs()[0]
detail = nb.detail([record])
print(detail)

# %% [markdown]
# ## What the search recorded, epoch by epoch
# Accuracies in %, the gap in percentage points, the derived cells' conv counts and the
# parameters of the CIFAR-10 network they would give (20 cells, C = 36).

# %%
epochs = ex.records_frame([record])
nb.save_table(epochs.drop(columns=["genotype"]), "walkthrough_epochs", "Per-epoch record of the walkthrough search",
               [record])
plots.show_table(epochs[["epoch", "train_acc", "val_acc", "gap", "train_loss", "val_loss", "convs_normal",
                         "convs_reduce", "params_M", "skip_connects", "entropy_normal", "alpha_step_s", "w_step_s"]])

# %% [markdown]
# ## α over the search
# Each row is an edge (input → intermediate node), each column an operation; the colour
# is the softmax weight that Eq. 8 gives the operation on that edge. At the start every
# weight is about 1/8; a short search moves them only a little, so the colour scale
# spans just the values reached.

# %%
fig = plots.fig_alpha_heatmaps(record, detail)
nb.save_figure(fig, "walkthrough_alpha_heatmaps", "softmax(alpha) per edge and operation at several epochs of "
                "one MiLeNAS search (normal and reduction cell)", [record])

# %%
fig = plots.fig_op_weights(record, detail)
nb.save_figure(fig, "walkthrough_op_weights", "Mean softmax(alpha) of each operation over the search "
                "(skip connections drawn thick)", [record])

# %% [markdown]
# ## The derived cells (Fig. 4 style)

# %%
fig = plots.fig_genotype(ex.final_genotype(record), "Fig. 4 style · cells derived by this MiLeNAS search", detail)
nb.save_figure(fig, "fig4_cells_searched", "Cells derived at the end of the walkthrough search (Fig. 4 style)",
                [record])

# %% [markdown]
# For comparison, the paper's Fig. 4 shows two searched architectures (2.34% error /
# 3.87M parameters and 2.50% / 2.86M). Their genotypes, registered in
# `milenas_lib.space.GENOTYPES` from the authors' public code (quoted, not searched here):

# %%
fig = plots.fig_genotype(space.GENOTYPES["MILENAS_2_34"], "Fig. 4 (paper, quoted) · MiLeNAS cell with 2.34% error, 3.87M",
                         "registered genotype from the authors' public code; not searched here")
nb.save_figure(fig, "fig4_cells_paper_2_34", "Fig. 4, left: the paper's 2.34% / 3.87M cells (quoted genotype)",
                data_source="quoted: genotype from the authors' public code")

# %%
fig = plots.fig_genotype(space.GENOTYPES["MILENAS_2_50"], "Fig. 4 (paper, quoted) · MiLeNAS cell with 2.50% error, 2.86M",
                         "registered genotype from the authors' public code; not searched here")
nb.save_figure(fig, "fig4_cells_paper_2_50", "Fig. 4, right: the paper's 2.50% / 2.86M cells (quoted genotype)",
                data_source="quoted: genotype from the authors' public code")

# %%
sizes = ex.genotype_table({"searched here": ex.final_genotype(record), "paper 2.34% (quoted)": "MILENAS_2_34",
                           "paper 2.50% (quoted)": "MILENAS_2_50"})
nb.save_table(sizes, "fig4_genotypes", "Searched and quoted cells with their network sizes", [record])
plots.show_table(sizes)

# %% [markdown]
# ## Explore the epochs
# Move the slider (or press play) to see α, the operation weights and the cells derived
# after each epoch, with their conv counts and the size of the evaluation network.

# %%
explorers.alpha_explorer(record)

# %% [markdown]
# ## Step a search by hand
# The search above ran to its end in one call. `Search` holds a search's whole state
# (supernet, both optimizers, schedule, update rule, data) and moves one step per call,
# so α and the supernet can be read, plotted or changed between any two steps. A tiny
# MiLeNAS search on the synthetic stand-in images (α's learning rate raised so that it
# moves visibly): the first two edges of the normal cell's α, before and after each of
# three steps. `for epoch in search.epochs(): ...` runs it epoch by epoch instead.

# %%
from milenas_lib.config import search_config
from milenas_lib.loops.searcher import Search

search = Search(search_config("smoke", method="milenas", dataset="synthetic", device="cpu", alpha_lr=0.05))
print("α (normal cell, edges 0-1) before any step:\n", search.alphas["normal"][:2])
print(search.step())
print("after step 1:\n", search.alphas["normal"][:2])
print(search.step())
print("after step 2:\n", search.alphas["normal"][:2])
print(search.step())
print("after step 3:\n", search.alphas["normal"][:2])
