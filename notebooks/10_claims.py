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
# # The paper's claims, measured with seeds and error bars
#
# Each claim of the paper's §3 becomes one or more comparisons (parts) between two settings,
# paired by seed (settings share their seeds: the same data split and the same initial
# supernet). A run's metric is its mean over the **last 3 epochs**. For each part the notebook
# computes the per-seed differences, their mean, standard deviation, raw 95 % Student-t interval
# and a **Holm-adjusted** interval over the family of parts, and a verdict **computed from the
# adjusted interval**, never written by hand:
#
# * first the **gates** (docs/PROTOCOL.md, "Gates"): every run a part compares must have trained
#   (final search-val accuracy ≥ 2 × chance) and moved α (mean entropy of softmax(α) fallen by
#   ≥ 5 % of ln 8; the frozen-α controls are exempt); otherwise *not measurable at this scale*;
# * *holds*: the interval lies on the paper's side of the line (0; 3× for the speed-up; inside
#   the measured margin for "close");
# * *weaker than claimed*: a speed-up above 1× but not above 3×;
# * *reversed*: it lies wholly on the other side;
# * *not resolved at this scale*: it covers the line.
#
# Claim 4 (the speed-up) is judged on a same-run, interleaved step benchmark
# (`scripts/bench_speedup.py` writes `results/<preset>/speed_benchmark.json`); the sweep's
# whole-run time ratio is reported beside it.
#
# | claim | paper | its words |
# | --- | --- | --- |
# | 1 | Fig. 2 (§3.2) | at the end of the search the train-val gap orders single-level > MiLeNAS (λ = 0.1, 1, 999) > bilevel (2nd-order DARTS) |
# | 2 | Fig. 3a (§3.2) | search-val accuracy: MiLeNAS λ = 1 and λ = 0.1 above bilevel; single-level lowest (one part per other setting); λ = 999 close to bilevel |
# | 3 | Fig. 3a | the bilevel → MiLeNAS switch ends above pure bilevel |
# | 4 | Fig. 3b | MiLeNAS search is over 3× faster than 2nd-order DARTS (same-run interleaved step benchmark) |
# | 5 | Fig. 5 (§3.4) | MiLeNAS (Gumbel) reaches higher search-val accuracy than GDAS |
#
# Claim 6 (Table 1 in miniature: the best λ = 1 cell trained from scratch against DARTS_V2's
# and a random cell) needs trainings that no preset but `paper` sizes yet; it is not run here.
#
# The `medium` preset (docs/PROTOCOL.md, "Presets") is the scale of the committed answer:
# `results/medium/claims.md`. With `smoke` the same code runs in minutes and every verdict
# is expected to be *not measurable*: the numbers show that the code runs, nothing more.

# %% [markdown]
# **How to read it.** The forest plot has one row per comparison: the dot is the mean effect
# over seeds, the bar its 95 % interval, the vertical line what the claim must clear; the
# verdict is computed from the interval. `results/<preset>/claims.md` holds the same table.
#
# **What to try.** `-p preset medium -p reuse_only True` recomputes the committed verdicts from
# the records in `results/runs/medium/`; more seeds narrow the intervals.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "medium": the committed evidence (3 CPU-core-hours); "paper": a GPU
order_check = None        # also MiLeNAS with lambda 1 stepped w first (Algorithm 1); re-judge the claims;
                          # None: on every preset but long
controls = None           # also the controls with alpha frozen; None: on the long preset
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, plots

nb = ex.open_notebook("10_claims", globals())

# %%
records = nb.runs()
times = ex.search_time_frame(records)
finals = ex.final_values(ex.records_frame(records), times)
speed = ex.load_speed_benchmark(nb.preset, nb.output_root)
claims = ex.evaluate_claims(finals, speed=speed)
detail = nb.detail(records)
print(detail)

# %% [markdown]
# ## Every claim at a glance
# One row per part: each seed's difference (dots), the raw 95 % interval (thick) and the
# Holm-adjusted interval the verdict uses (thin, capped); dashed lines mark what a part must
# clear besides zero (the 3× speed-up, the measured margin of "close").

# %%
fig = plots.fig_claims(claims, detail)
nb.save_figure(fig, "claims_forest", "The paper's claims: paired effects over seeds with 95 % t intervals and "
               "their verdicts", records)

# %% [markdown]
# ## The table
# Per part: mean [raw 95 % interval], mean [Holm-adjusted interval], std, n, the per-seed values,
# the p-value (Holm-adjusted in brackets) and the verdict with its reason.

# %%
table = ex.claims_table(claims, nb.preset)
nb.save_table(table, "claims", "The paper's claims: measured effect, 95 % CI, n and verdict", records)
plots.show_table(table)

# %% [markdown]
# ## Does the update order matter?
# The same comparisons with MiLeNAS λ = 1 stepped in Algorithm 1's order (w first, then α
# at the new w) in place of the default `simultaneous` order (docs/PROTOCOL.md, "Update order").
# Exploratory: raw 95 % intervals, outside the Holm family.

# %%
order = ex.order_sensitivity(finals, {"milenas_lam1": "milenas_lam1_w_first"})
nb.save_table(order, "claims_order", "Verdicts of the parts with MiLeNAS λ = 1, in its default and in "
              "Algorithm 1's update order", records)
plots.show_table(order)

# %% [markdown]
# ## Does the search beat α frozen?
# Where the controls ran (the `long` preset): each search against its control with α never
# stepped, same seeds (exploratory: raw 95 % intervals, outside the Holm family). A search that
# does not beat its control has not shown that searching α helped.

# %%
controls = ex.control_checks(finals)
plots.show_table(ex.claims_table(controls, nb.preset)) if not controls.empty else print("no controls run")

# %% [markdown]
# ## The report
# `results/<preset>/claims.md` (the table a reader sees first) and `claims.json` (the same
# numbers with every run's provenance).

# %%
nb.save_claims(claims, order, records, speed, times, controls)
