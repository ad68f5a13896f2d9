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
# # Fig. 5: GDAS against MiLeNAS (Gumbel)
#
# MiLeNAS is a rule for α, so it can replace the bilevel rule of other NAS methods
# (paper §3.3.1). GDAS samples one operation per edge with a hard Gumbel-softmax and
# moves α by the validation loss (bilevel, first order); **MiLeNAS (Gumbel)** keeps
# the sampling and moves α by `∇α L_tr + λ ∇α L_val` (λ = 1). The paper reports a
# higher search-validation accuracy (65.79% → 69.56%) and a lower evaluated error
# (2.82% → 2.57%). The GDAS protocol (§3.3.1, docs/PROTOCOL.md): batch 128, 250 epochs, τ from 10 down
# to 0.1 at the last epoch; accuracy is measured on the argmax architecture.

# %% [markdown]
# **How to read it.** Search-val accuracy in % of the argmax architecture over the epochs,
# GDAS against MiLeNAS (Gumbel), mean ± std over seeds; the paper's values are drawn beside
# ours and marked as quoted.
#
# **What to try.** More seeds (`-p seeds '[0,1,2]'`); `-p preset medium -p reuse_only True`;
# τ's schedule is in each record (`records_frame(records)["tau"]`).

# %% tags=["parameters"]
preset = "smoke"          # "smoke": CPU minutes; "paper": the paper's protocol (a GPU)
# Also: seeds, device, data_root, search_overrides, reuse_only, output_root, workers, backend, address, plan_only, tensorboard

# %%
from milenas_lib import experiments as ex, plots

nb = ex.open_notebook("04_gdas_vs_milenas", globals())

# %%
records = nb.runs()
epochs = ex.records_frame(records)
detail = nb.detail(records)
detail

# %%
fig = plots.fig_gumbel(ex.curves(epochs, ["val_acc", "tau"]), ex.final_epoch(epochs), detail)
nb.save_figure(fig, "fig5_gdas_vs_milenas_gumbel", "Fig. 5: search-val accuracy of GDAS and MiLeNAS (Gumbel) "
                "over the search, and beside the paper's quoted values", records)

# %%
final = ex.final_table(epochs, ["val_acc", "train_acc"])
nb.save_table(final, "fig5_final_epoch", "Fig. 5: last-epoch accuracies of GDAS and MiLeNAS (Gumbel)", records)
nb.save_table(ex.mean_std(epochs, "val_acc"), "fig5_search_val_accuracy",
               "Fig. 5 data: search-val accuracy (%) per setting and epoch, mean/std/n over seeds", records)
final

# %% [markdown]
# The cells each search derived (the evaluated error of the paper needs notebook 6):

# %%
ex.genotype_table(ex.run_genotypes(records))

# %%
claims = ex.fig5_claims(epochs)
nb.save_table(claims, "fig5_claims", "Fig. 5 claim of the paper against these runs", records)
claims
