"""The explorers (ipywidgets) and the figures behind them, built outside JupyterLab:
each control changes the picture, each explorer carries a static PNG for papermill's
copies, and the live search really searches."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from milenas_lib import explorers
from milenas_lib.space import GENOTYPES
from milenas_lib.space.operations import PRIMITIVES

PNG_MAGIC = b"\x89PNG"


def fake_record(setting: str = "milenas_lam1", seed: int = 0, epochs: int = 3, lam: float = 1.0) -> dict:
    """A search record in the loop's format with made-up numbers (no search run)."""
    rng = np.random.default_rng(seed + 17 * epochs)
    names = ["DARTS_V2", "MILENAS_2_34", "MILENAS_2_50", "MILENAS_2_80"]
    entries = []
    for epoch in range(epochs):
        genotype = GENOTYPES[names[epoch % len(names)]]
        logits = {cell: rng.normal(size=(14, len(PRIMITIVES))) * (epoch + 1) / epochs for cell in ("normal", "reduce")}
        softmax = {cell: (np.exp(v) / np.exp(v).sum(1, keepdims=True)).tolist() for cell, v in logits.items()}
        train, val = 0.2 + 0.1 * epoch + 0.02 * seed, 0.15 + 0.05 * epoch
        entries.append({"epoch": epoch, "train_acc": train, "val_acc": val, "gap": train - val, "train_loss": 2 - epoch / 3,
                        "val_loss": 2.1 - epoch / 4, "softmax": softmax, "genotype": genotype.to_dict(),
                        "genotype_text": str(genotype), "convs": list(genotype.conv_counts), "params": 3.1e6 + 1e5 * epoch,
                        "skip_connects": genotype.count("skip_connect"), "entropy": {"normal": 2.0, "reduce": 2.05},
                        "w_lr": 0.025, "alpha_step_s": 0.1, "w_step_s": 0.1, "eval_s": 0.05})
    return {"method": "milenas", "lam": lam, "seed": seed, "setting": setting, "label": setting, "epochs": entries,
            "genotype": entries[-1]["genotype"]}


def _bundle_png(explorer) -> bytes:
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget in JupyterLab
    assert bundle["text/plain"] and "\n" not in bundle["text/plain"]
    return base64.b64decode(bundle["image/png"])  # the static stand-in


def test_alpha_explorer_slider_redraws_picture_and_genotype():
    record = fake_record(epochs=3)
    explorer = explorers.alpha_explorer(record)
    first, text = bytes(explorer.image.value), explorer.controls["genotype"].value
    assert first.startswith(PNG_MAGIC) and _bundle_png(explorer) == first
    assert "after epoch 3" in text and record["epochs"][2]["genotype_text"] in text
    explorer.controls["epoch"].value = 1
    assert bytes(explorer.image.value) != first
    assert record["epochs"][0]["genotype_text"] in explorer.controls["genotype"].value
    assert not explorer.output.outputs  # no error printed by the callback
    explorer.controls["epoch"].value = 3
    assert bytes(explorer.image.value) == first  # the same epoch gives the same picture


def test_alpha_epoch_figure_states_counts_and_size():
    record = fake_record(epochs=2)
    fig = explorers.fig_alpha_epoch(record, 2)
    genotype = GENOTYPES["MILENAS_2_34"]
    title = fig._suptitle.get_text()
    assert f"{genotype.conv_counts[0]} + {genotype.conv_counts[1]} conv ops" in title
    assert "3.20M parameters" in title and "after epoch 2 of 2" in title
    assert any(ax.get_label() == "<colorbar>" for ax in fig.get_axes() + [a for sub in fig.subfigs for a in sub.axes])


def test_method_explorer_toggles_settings_seeds_and_metric():
    records = [fake_record(key, seed, lam=lam) for key, lam in (("milenas_lam1", 1.0), ("milenas_lam0.1", 0.1))
               for seed in (0, 1)]
    explorer = explorers.method_explorer(records, metric="gap")
    pictures = [bytes(explorer.image.value)]
    explorer.controls["setting:milenas_lam0.1"].value = False
    pictures.append(bytes(explorer.image.value))
    explorer.controls["seed:1"].value = False
    pictures.append(bytes(explorer.image.value))
    explorer.controls["metric"].value = "skip_connects"
    pictures.append(bytes(explorer.image.value))
    assert len(set(pictures)) == 4 and not explorer.output.outputs
    with pytest.raises(ValueError, match="unknown metric"):
        explorers.method_explorer(records, metric="accuracy")


def test_metric_figure_states_n_and_draws_bands_only_for_several_seeds():
    records = [fake_record("milenas_lam1", seed) for seed in (0, 1, 2)]
    from milenas_lib.paper.frames import records_frame

    frame = records_frame(records)
    fig = explorers.fig_metric(frame, "train_acc", ["milenas_lam1"], [0, 1, 2])
    ax = fig.axes[0]
    assert "n=3" in ax.get_legend().get_texts()[0].get_text()
    assert ax.collections, "a ± std band for n = 3"
    mean = ax.lines[0].get_ydata()
    assert np.allclose(mean, frame.groupby("epoch")["train_acc"].mean().to_numpy())
    single = explorers.fig_metric(frame, "train_acc", ["milenas_lam1"], [1]).axes[0]
    assert not single.collections and "n=1" in single.get_legend().get_texts()[0].get_text()


@pytest.mark.slow
def test_live_search_runs_a_real_tiny_search_epoch_by_epoch():
    from milenas_lib.explorers.live import tiny_search_epochs

    seen = [len(record["epochs"]) for record in tiny_search_epochs(0.1, epochs=2)]
    assert seen == [1, 2]  # one record per finished epoch, drawn in between
    explorer = explorers.live_search(lam=1.0, epochs=2, run_now=False)
    empty = bytes(explorer.image.value)
    explorer.controls["lam"].value = 0.0
    explorer.controls["run"].click()
    assert not explorer.output.outputs, explorer.output.outputs
    assert explorer.controls["progress"].value == 2 and bytes(explorer.image.value) != empty
    explorer.controls["clear"].click()
    assert bytes(explorer.image.value) == empty
