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
# # How wrong is the 2nd-order DARTS hypergradient?
#
# The paper's central argument (§2.2) is that bilevel NAS fails to converge because
# 2nd-order DARTS uses an approximate gradient: (i) one SGD step stands in for
# `w*(α)`, and (ii) the second-order term `g₂ = ∇²α,w L_tr · ∇w' L_val` is a finite
# difference (Eq. 7) with `ε = 0.01 / ‖v‖`. The paper never measures (ii). We do.
#
# For the one-step unroll `w'(α) = w − ξ ∇w L_tr(w, α)` the exact hypergradient
# `∇α L_val(w'(α), α)` is available by double backward through the unroll. Along one
# search (here 2nd-order DARTS, stopped at a few points and resumed, so it is the same
# search an uninterrupted run makes) we compare on one fixed batch, in float64:
#
# * DARTS' finite-difference estimate at DARTS' ε and at a tiny ε: relative error of
#   the `g₂` term and of the whole hypergradient;
# * the first-order α directions, as cosines to the exact hypergradient:
#   1st-order DARTS `∇α L_val`, MiLeNAS `∇α L_tr + λ ∇α L_val`, single-level `∇α L_tr`;
# * at the last state, the error against ε, in float64 and float32.
#
# What "exact" means here: exact for the one-step unroll, i.e. exactly what Eq. 7
# estimates. Error (i), the unroll standing in for `w*`, is not measured.

# %% [markdown]
# **How to read it.** The relative errors (log scale) of DARTS' finite-difference term and of
# the whole hypergradient at each measured state of the search; the cosines of the
# first-order α directions to the exact hypergradient (1 = same direction); at the last
# state, the error against ε in float64 and float32.
#
# **What to try.** `-p dtype float32` (what a search computes in); `-p method milenas` to
# measure along a MiLeNAS search instead; `-p points 5` for more states.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
method = "darts_2nd"      # the search whose states are measured
lam = 1.0                 # λ of the MiLeNAS direction compared (and of the search if it is MiLeNAS)
points = None             # measured states, start and end included; None: 5 for smoke, 11 for paper
dtype = "float64"         # precision of the measurements along the trajectory
sweep_epsilons = None     # ε values of panel (c); None: 1e-1, 1e-2, ..., 1e-10
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, plots

nb = ex.open_notebook("08_gradient_error", globals())

# %%
measured = nb.runs()
record = {**measured["record"], "setting": nb.method, "label": nb.method}
detail = nb.detail([record]) + f" · one fixed batch of {record['config']['batch_size']}, {nb.dtype}"
detail

# %%
fig = plots.fig_gradient_error(measured["trajectory"], measured["sweep"], detail)
nb.save_figure(fig, "gradient_error", "Finite-difference (Eq. 7) against exact one-step hypergradient along a "
                "search, first-order directions beside it, and the error against epsilon", [record])

# %% [markdown]
# ## Along the search (DARTS' ε)
# `second_order_relative_error`: error of the finite-difference `g₂`;
# `total_relative_error`: of the whole hypergradient `g₁ − ξ g₂`;
# `second_order_norm / direct_norm`: how much `ξ g₂` weighs against `g₁`.

# %%
trajectory = measured["trajectory"]
nb.save_table(trajectory, "gradient_error_trajectory", "Hypergradient errors and cosines at each measured state "
               "of the search, for each finite-difference epsilon", [record])
ex.trajectory_summary(trajectory)

# %% [markdown]
# ## Against ε, at the last state

# %%
sweep = measured["sweep"]
nb.save_table(sweep, "gradient_error_epsilon_sweep", "Hypergradient error against the finite-difference epsilon "
               "at the last state, float64 and float32", [record])
sweep[["dtype", "epsilon", "second_order_relative_error", "total_relative_error", "total_cosine"]]

# %% [markdown]
# ## How to read it
#
# * The finite difference straddles ReLU and max-pool kinks: at DARTS' ε the step in
#   weight space is 0.01, far larger than the distance to the nearest kink, so the `g₂`
#   term is badly wrong (panel a). It converges to the double-backward value only when
#   ε is small enough to cross no kink, and in float32 round-off takes over before
#   that (panel c).
# * Whether that matters depends on how much `ξ g₂` weighs against `g₁`
#   (`second_order_norm / direct_norm` above): ξ is the w learning rate, so the term is
#   largest early in a search and small once the cosine schedule has lowered it.
# * The MiLeNAS direction is not an estimate of this hypergradient: it descends a
#   different objective (Eq. 4) and contains no approximation; its cosine to the
#   bilevel hypergradient says how differently the two rules move α, not an error.
