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
# # Fig. 3: search-validation accuracy and search time
#
# **Fig. 3a** (paper §3.2): search-validation accuracy over the 50 search epochs for
# single-level, MiLeNAS λ = 0.1, 1, 999, bilevel (2nd-order DARTS), and a run that is
# bilevel for 35 epochs and then switches to MiLeNAS. The paper's claims:
# single-level is lowest; MiLeNAS λ = 1 and 0.1 end above bilevel; λ = 999 ends
# close to bilevel; bilevel stalls after about epoch 35 while the switched run keeps
# improving.
#
# **Fig. 3b**: search time per method; MiLeNAS is "more than 3x faster" than
# 2nd-order DARTS. Per step, 2nd-order DARTS does 5 forward+backward passes and
# MiLeNAS 2 (docs/PROTOCOL.md): 2.5x the passes. Our bars split the time into α step,
# w step and evaluation so the cause of any difference is visible.
#
# The first five settings are notebook 2's runs (read back from the run store);
# only the switched run is new.

# %% [markdown]
# **How to read it.** Fig. 3a: search-val accuracy in % over the epochs, mean ± std over
# seeds; the dotted line marks the epoch where the switched run turns from bilevel to
# MiLeNAS. Fig. 3b: seconds per run, split into the α step, the w step and evaluation, with
# each method's ratio to 2nd-order DARTS.
#
# **What to try.** `-p preset medium -p reuse_only True` (the committed records); compare
# 3b's ratios with `python -m milenas_lib bench --size smoke`, which times the steps alone.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, explorers, plots

nb = ex.open_notebook("03_search_val_accuracy", globals())

# %%
records = nb.runs()
epochs = ex.records_frame(records)
times = ex.search_time_frame(records)
detail = nb.detail(records)
print(detail)

# %% [markdown]
# ## Fig. 3a

# %%
fig = plots.fig_search_val_accuracy(ex.curves(epochs, ["val_acc"]), ex.FIG3_SETTINGS, detail,
                                    ex.switch_epoch(records))
nb.save_figure(fig, "fig3a_search_val_accuracy", "Fig. 3a: search-val accuracy over the search for six settings, "
                "including bilevel then MiLeNAS", records)

# %% [markdown]
# Explore the runs: toggle settings and seeds, pick a metric (mean ± std, n stated).

# %%
explorers.method_explorer(records, metric="val_acc")

# %%
final = ex.final_table(epochs, ["val_acc", "train_acc"])
nb.save_table(final, "fig3a_final_epoch", "Fig. 3a: last-epoch search-val and train accuracy per setting", records)
nb.save_table(ex.mean_std(epochs, "val_acc"), "fig3a_search_val_accuracy",
               "Fig. 3a data: search-val accuracy (%) per setting and epoch, mean/std/n over seeds", records)
plots.show_table(final)

# %% [markdown]
# ## Fig. 3b
# Wall time of each search on this machine (`device` below), split into the α step,
# the w step, and the search-val evaluation after each epoch. On a shared CPU the
# absolute seconds vary with the load; the ratios are the point.

# %%
fig = plots.fig_search_time(times, ex.FIG3_SETTINGS, detail + f" · {times['device'].iloc[0]}")
nb.save_figure(fig, "fig3b_search_time", "Fig. 3b: search wall time per method, split into alpha step, w step "
                "and evaluation", records)

# %%
nb.save_table(times, "fig3b_search_time", "Fig. 3b data: search time per run (s), its split, steps and passes",
               records)
plots.show_table(times[["label", "seed", "time_s", "alpha_step_s", "w_step_s", "eval_s", "passes_per_step",
                        "s_per_step"]], precision=2)

# %% [markdown]
# ## The paper's claims, checked on these runs
# With the `smoke` preset this shows the pipeline end to end, not evidence; only the
# time ratio is meaningful at any size (it depends on passes per step, not on data).

# %%
claims = ex.fig3_claims(epochs, times)
nb.save_table(claims, "fig3_claims", "Fig. 3 claims of the paper against these runs", records)
plots.show_table(claims)
