"""A live search for the classroom: λ of Eq. 5 on a slider, a tiny MiLeNAS
search on the CPU (synthetic images, a 3-cell supernet of width 2, α's learning
rate raised so that it moves within seconds) whose
curves redraw after every epoch, the finished runs of other λ kept beside it.

λ = 0 is single-level optimisation (α follows the training loss alone);
growing λ weighs the validation loss more, and the paper's Fig. 2 shows the
train-validation gap closing as it does.  On this toy data the numbers are
noisy: the point is watching the mechanics, not the values.
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

from matplotlib.ticker import MaxNLocator

from ..config import search_config
from ..names import check_choice
from ..loops.searcher import Search
from ..plots.style import figure, titled
from .common import Explorer, image_widget, png

#: λ values on the slider: single-level, MiLeNAS' range, and "almost bilevel".
LAMBDAS = (0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 999.0)
#: The tiny search: 40 + 40 synthetic images, 4 steps per epoch, C = 2, 3 cells.  α's learning rate
#: is raised from the paper's 3e-4 to 0.05, so that α, and with it the effect of λ, moves within a few
#: dozen steps: a demonstration, not the protocol.
TINY_SEARCH = {"dataset": "synthetic", "per_class": 4, "batch_size": 10, "C": 2, "layers": 3, "alpha_lr": 0.05,
               "device": "cpu", "num_threads": 1}
_PANELS = (("train_acc", "train accuracy (%)"), ("val_acc", "search-val accuracy (%)"),
           ("gap", "train − search-val (pp)"))


def tiny_search_epochs(lam: float, epochs: int = 4, seed: int = 0) -> Iterator[dict]:
    """A tiny MiLeNAS search (Eq. 5 with ``lam``); yields its record after each
    epoch, read from the live search (nothing is written to disk)."""
    method = "single_level" if lam == 0 else "milenas"
    config = search_config("smoke", method=method, lam=float(lam), epochs=epochs, seed=seed, **TINY_SEARCH)
    search = Search(config)
    for _ in search.epochs():
        yield search.record


def fig_live(runs: Sequence[tuple[float, dict]], epochs: int):
    """Train and search-val accuracy and their gap per epoch; the last run drawn bold."""
    fig, axes = figure(1, 3, figsize=(13, 3.9))
    for index, (lam, record) in enumerate(runs):
        latest = index == len(runs) - 1
        x = [e["epoch"] + 1 for e in record["epochs"]]
        for ax, (key, _) in zip(axes, _PANELS):
            ax.plot(x, [100 * e[key] for e in record["epochs"]], marker="o", alpha=1.0 if latest else 0.45,
                    linewidth=2.4 if latest else 1.2, label=f"λ = {lam:g}" + (" (latest)" if latest else ""),
                    color=f"C{index % 10}")
    for ax, (key, text) in zip(axes, _PANELS):
        ax.set_xlim(0.5, epochs + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("search epoch")
        ax.set_title(text)
    axes[2].axhline(0, color="black", linewidth=0.8)
    if runs:
        axes[2].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    else:
        axes[1].text(0.5, 0.5, "press 'run search'", transform=axes[1].transAxes, ha="center", va="center")
    titled(fig, "A live MiLeNAS search: α follows ∇α L_tr + λ ∇α L_val (Eq. 5)",
           "tiny supernet (3 cells, C = 2), 40 + 40 synthetic images, α learning rate 0.05 (paper: 3e-4) "
           "so that α moves in seconds; one seed, noisy by design")
    return fig


def live_search(lam: float = 1.0, epochs: int = 4, run_now: bool = True, seed: int = 0) -> Explorer:
    """λ slider, 'run search' button, progress bar, curves redrawn after each epoch.
    ``run_now`` runs the first search while the explorer is built (so that a static
    copy of the notebook shows a real run too)."""
    import ipywidgets as widgets

    check_choice(lam, "lam", LAMBDAS)
    runs: list[tuple[float, dict]] = []
    slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in LAMBDAS], value=lam, description="λ",
                                     continuous_update=False)
    button = widgets.Button(description="run search", button_style="primary", icon="play")
    clear = widgets.Button(description="clear runs")
    progress = widgets.IntProgress(value=0, min=0, max=epochs, description="epochs")
    image = image_widget(png(fig_live(runs, epochs)))
    output = widgets.Output()

    def run(value: float) -> None:
        button.disabled = True
        progress.value = 0
        try:
            for record in tiny_search_epochs(value, epochs, seed):
                progress.value = len(record["epochs"])
                image.value = png(fig_live([*runs, (value, record)], epochs))
            runs.append((value, record))
        finally:
            button.disabled = False

    @output.capture(clear_output=True)
    def pressed(_button: Optional[object] = None) -> None:
        run(slider.value)

    @output.capture(clear_output=True)
    def cleared(_button: Optional[object] = None) -> None:
        runs.clear()
        image.value = png(fig_live(runs, epochs))

    button.on_click(pressed)
    clear.on_click(cleared)
    if run_now:
        run(lam)
    box = widgets.VBox([widgets.HBox([slider, button, clear, progress]), image, output])
    return Explorer(box, {"lam": slider, "run": button, "clear": clear, "progress": progress}, image, output,
                    f"live search: λ slider, {epochs} epochs per run")
