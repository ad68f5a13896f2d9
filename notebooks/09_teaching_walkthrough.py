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
# # Differentiable NAS and MiLeNAS in one class
#
# A walkthrough for a class: the search space, the continuous relaxation (Eq. 8),
# the three ways to train the architecture (single-level, bilevel, mixed-level), and a
# tiny search that runs in a few minutes on a laptop CPU. All code lives in the
# `milenas_lib` package; this notebook only calls it.
#
# ## 1. The search space
#
# A network is a stack of **cells**. Cell k takes the outputs of the two previous cells,
# `c_{k-2}` and `c_{k-1}`, and has four intermediate nodes; node i sums one operation
# applied to each earlier node, and the cell outputs the concatenation of the four
# nodes. Every cell of a kind shares one architecture: **normal** cells keep the
# resolution, **reduction** cells (at 1/3 and 2/3 of the depth) halve it.
# The candidate operations are:

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
methods = ["single_level", "milenas_lam1", "darts_2nd"]   # the three formulations searched in section 4
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, explorers, plots, space

nb = ex.open_notebook("09_teaching_walkthrough", globals())

# %%
plots.show_table(ex.operations_table())

# %% [markdown]
# Between node j and node i (j < i) there is one **edge**; a cell has 2 + 3 + 4 + 5 = 14
# edges. A *discrete* architecture keeps two incoming edges per node and one operation
# per edge. Here is the cell DARTS found (2nd-order DARTS, 2.76% error on CIFAR-10):

# %%
fig = plots.fig_genotype(space.GENOTYPES["DARTS_V2"], "The DARTS_V2 cells (DARTS paper)", "an example of the search space")
nb.save_figure(fig, "teaching_darts_v2_cells", "The DARTS_V2 normal and reduction cell, an example of the space",
                data_source="genotype quoted from the DARTS paper")

# %% [markdown]
# How big is the search? Choosing 2 of the incoming edges of each node and one of 7
# operations per kept edge gives about 10⁹ cells of each kind. Instead of trying them,
# differentiable NAS trains one **supernet** that contains all of them:

# %%
plots.show_table(ex.supernet_summary())

# %% [markdown]
# ## 2. The continuous relaxation (Eq. 8)
#
# Each edge holds a vector α of 8 numbers, one per operation, and outputs the
# softmax-weighted sum of all operations:
#
# $$\bar o^{(i,j)}(x) = \sum_k \frac{\exp \alpha^{(i,j)}_k}{\sum_{k'} \exp \alpha^{(i,j)}_{k'}}\, o_k(x) .$$
#
# Now the architecture is continuous and the loss is differentiable in α. Below, one
# edge of the supernet with a hand-picked α: the weights p_k, and a check that the
# supernet's edge computes exactly this sum.

# %%
relaxation = ex.relaxation_demo()
fig = plots.fig_relaxation(relaxation["table"])
nb.save_figure(fig, "teaching_relaxation", "Eq. 8 on one edge: alpha and the softmax mixing weights",
                data_source="random input to one supernet edge")
plots.show_table(relaxation["table"])

# %%
print(f"largest difference between the edge's output and Σ p_k o_k(x): {relaxation['max_difference']:.1e}")

# %% [markdown]
# After the search, the discrete cell keeps, for each node, the two edges whose best
# non-`none` operation has the largest weight, and that operation on each.
#
# ## 3. Three formulations
#
# w are the supernet's weights, α the architecture; `L_tr` is the loss on one half of
# the training images, `L_val` on the other half ("search-val").
#
# * **Single-level** (Eq. 3): $\min_{w,\alpha} L_{tr}(w, \alpha)$. Cheap, but α is fitted
#   to the same data as w and overfits: it favours whatever lowers the training loss.
# * **Bilevel** (Eq. 1-2, DARTS): $\min_\alpha L_{val}(w^*(\alpha), \alpha)$ with
#   $w^*(\alpha) = \arg\min_w L_{tr}(w, \alpha)$. The true gradient needs $w^*$; DARTS
#   approximates it by one SGD step and a finite difference (Eq. 6-7): 5 passes per step.
#   Notebook 8 measures how far off that approximation is.
# * **Mixed-level** (MiLeNAS, Eq. 4-5): $\min_{\alpha, w} L_{tr}(w, \alpha) + \lambda L_{val}(w^*(\alpha), \alpha)$,
#   solved with plain first-order steps:
#   $w \leftarrow w - \eta_w \nabla_w L_{tr}$,
#   $\alpha \leftarrow \alpha - \eta_\alpha (\nabla_\alpha L_{tr} + \lambda \nabla_\alpha L_{val})$.
#   λ = 0 is single-level; λ → ∞ approaches bilevel. 2 passes per step.
#
# Every method in the kit is a small *update rule* driven by one search loop:

# %%
plots.show_table(ex.rules_table())

# %% [markdown]
# MiLeNAS' update (Eq. 5) as code you can change: a few steps on a tiny supernet
# (synthetic images), one train batch and one search-val batch per step. Try λ = 0
# (single-level), drop the w step, or step α before computing w's gradient, and rerun.

# %% tags=["teaching"]
lab = ex.TeachingLab(lam=1.0, steps=10)
for train, val in lab.batches:
    g_alpha_train, g_w_train = lab.gradients(train)         # ∇α L_tr(w, α), ∇w L_tr(w, α)
    g_alpha_val, _ = lab.gradients(val)                     # ∇α L_val(w, α)
    lab.step_w(g_w_train)                                   # w ← w − η_w ∇w L_tr
    lab.step_alpha(g_alpha_train + lab.lam * g_alpha_val)   # α ← α − η_α (∇α L_tr + λ ∇α L_val)
    lab.record(train, val)
plots.show_table(lab.history(), precision=4)

# %% [markdown]
# ## 4. A tiny search
#
# The three formulations on a small supernet and a few hundred CIFAR-10 images (the
# `smoke` preset: a few minutes on a laptop CPU, finished runs are read back). At this
# size the accuracies are barely above chance (10%): the point is to watch the
# mechanics, not to reproduce the paper.

# %%
records = nb.runs()
epochs = ex.records_frame(records)
detail = nb.detail(records)
fig = plots.fig_learning_curves(ex.curves(epochs, ["train_acc", "val_acc"]), nb.methods, detail)
nb.save_figure(fig, "teaching_learning_curves", "Train and search-val accuracy of a tiny search with three "
                "formulations", records)

# %%
final = ex.final_table(epochs, ["train_acc", "val_acc", "gap"])
nb.save_table(final, "teaching_final_epoch", "Last-epoch accuracies of the tiny search", records)
plots.show_table(final)

# %% [markdown]
# Time per search and passes per step (the cost side of the comparison):

# %%
plots.show_table(ex.search_time_frame(records)[["label", "time_s", "alpha_step_s", "w_step_s", "passes_per_step"]],
                 precision=1)

# %% [markdown]
# The cells MiLeNAS derived:

# %%
fig = plots.fig_genotype(ex.final_genotype(ex.records_of(records, "milenas_lam1")[0]),
                         "Cells derived by the tiny MiLeNAS search", detail)
nb.save_figure(fig, "teaching_milenas_cells", "Cells derived by the tiny MiLeNAS search", records)

# %% [markdown]
# ## 5. λ, live
#
# Pick λ on the slider and press *run search*: a tiny MiLeNAS search (3 cells, 40 + 40
# synthetic images, seconds on a CPU; α's learning rate is raised so that α moves that
# fast) redraws its train and search-val accuracy and their gap after every epoch;
# earlier runs stay in the plot, faint, for comparison. λ = 0 is single-level. Compare
# λ = 0 with λ = 999: which one keeps the gap smaller? On such toy data one run is
# noisy, so do not read too much into one curve.

# %%
explorers.live_search(lam=1.0)

# %% [markdown]
# ## 6. Exercises
#
# 1. Rerun section 4 with `search_overrides={"epochs": 6}`. Which formulation has the
#    largest train - val gap? Is that what the paper's Fig. 2 predicts?
# 2. Add `"milenas_lam999"` and `"milenas_lam0.1"` to `methods`. Where do their gaps
#    fall between single-level and bilevel?
# 3. Count the skip connections in the derived cells (`records_frame(...)["skip_connects"]`)
#    as the search gets longer. Why might a single-level search favour them?
# 4. Open notebook 8: at DARTS' ε, how large is the error of the finite-difference term,
#    and how much does that term weigh in the whole hypergradient?

# %% [markdown]
# <details><summary>Solutions (click to open)</summary>
#
# 1. Read the gap from `ex.records_frame(records)` at the last epoch (`gap`, in points), or from
#    the explorer above. The paper's Fig. 2 predicts single-level largest and bilevel smallest.
#    At CPU scale the differences are often smaller than the spread between seeds: the
#    committed `long` sweep (4 seeds) resolves none of the ordering's parts, and single-level's
#    α barely moves (`results/long/claims.md`, claim 1), so a single short run may show any order.
# 2. With `methods` extended, the same frame gives one gap per setting; by the paper, λ = 0.1
#    lies near single-level (the training loss dominates α) and λ = 999 near bilevel. Check
#    whether your runs order them so, and whether the differences exceed the seed-to-seed spread.
# 3. `skip_connects` counts the skip connections in the derived normal cell per epoch. A
#    skip connection lowers the training loss fastest early on (it passes the signal without
#    weights to learn), and single-level moves α by the training loss alone, so nothing pulls
#    α back towards operations that generalise: skip connections tend to pile up.
# 4. Notebook 8's table gives, per measured state and ε, `second_order_relative_error` (the
#    finite-difference term `g₂`) and `total_relative_error` (the whole hypergradient), and
#    `ξ‖g₂‖ / ‖g₁‖`, the weight of that term in the whole: `g₂` is scaled by ξ (the w learning
#    rate), so a large error in it is a small error in the whole when that weight is small.
#
# </details>

# %% [markdown]
# ## 7. Teaching from the committed records
#
# No time to search in class? The kit commits the `long` sweep's records
# (`results/runs/long/`, four seeds of every setting), and this notebook draws from them
# without training:
#
# ```bash
# papermill notebooks/09_teaching_walkthrough.ipynb out.ipynb -p preset long -p reuse_only True
# ```
#
# or set `preset = "long"` and `reuse_only = True` in the parameters cell. Sections 1-3 and 5
# do not depend on the preset; section 4 then shows the long searches (16 px CIFAR-10, 16
# epochs, where α visibly moves for λ = 1 and bilevel but not for single-level). **How to read the figures:** every curve is a mean over seeds with a ± std band,
# accuracies in %, the gap in points. **What to try:** the exercises above, on these records.
