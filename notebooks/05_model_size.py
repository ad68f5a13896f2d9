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
# # Fig. 6: accuracy per model size
#
# The paper (§2.3, §3.3.2) tracks, during the search, the best search-validation
# accuracy reached by each **model size**: the derived cells' convolution counts
# (normal, reduce), which fix the parameter count of the evaluation network. It then
# evaluates the best architecture of each parameter range (200-epoch searches) and
# reports test accuracy against parameters, best in **3.5M-4.5M**.
#
# Every search record keeps these buckets (`record["buckets"]`, per conv-count pair and
# per 0.5M parameter range, with the genotype that reached each). This notebook reads
# them from the runs of notebooks 2 and 3 (no new training) and draws:
# (a) the best search-val accuracy per parameter range and setting;
# (b) the best per conv-count bucket over all settings; (c) the paper's evaluated
# MiLeNAS cells (Table 1), quoted. Evaluating each bucket's best cell is notebook 6's job.
#
# For the paper's protocol, pass `search_overrides={"epochs": 200}` with `preset="paper"`
# (these become runs of their own in the store).

# %% [markdown]
# **How to read it.** (a) the best search-val accuracy in % reached within each 0.5M
# parameter range, per setting; (b) the best per conv-count bucket (normal, reduce) over all
# settings; (c) the paper's evaluated MiLeNAS cells, quoted. Nothing here is trained: the
# buckets are in the records of notebooks 2 and 3.
#
# **What to try.** `-p preset paper -y 'search_overrides: {epochs: 200}'` for the paper's
# 200-epoch searches (a GPU); a longer search fills more buckets.

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, plots

nb = ex.open_notebook("05_model_size", globals())

# %%
records = nb.runs()
buckets = ex.bucket_frame(records)
best_params = ex.best_per_bucket(buckets, "params")
best_convs = ex.best_per_bucket(buckets, "convs", by=[])
detail = nb.detail(records)
detail

# %%
fig = plots.fig_model_size(best_params, best_convs, ex.FIG3_SETTINGS, detail)
nb.save_figure(fig, "fig6_model_size", "Fig. 6: best search-val accuracy per parameter range and per conv-count "
                "bucket, beside the paper's evaluated cells (quoted)", records)

# %% [markdown]
# The best cell of each parameter range and setting (the candidates the paper would evaluate):

# %%
nb.save_table(best_params, "fig6_best_per_param_range",
               "Fig. 6 data: best search-val accuracy per 0.5M parameter range and setting, with its genotype", records)
nb.save_table(best_convs, "fig6_best_per_conv_bucket",
               "Fig. 6 data: best search-val accuracy per conv-count bucket (normal, reduce) over all settings", records)
best_params[["label", "bucket", "val_acc", "epoch", "convs_normal", "convs_reduce", "params_M", "seed"]].round(3)
