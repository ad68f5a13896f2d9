"""The notebooks as a person meets them: JupyterLab in a real (headless) Chromium.

A temporary copy of notebooks 01, 02 and 09 reads a tiny run store (synthetic
images, a 3-cell supernet, filled before the server starts, so the notebooks
run with ``reuse_only=True``).  In the browser each notebook is run with Run
All; no cell may end in an error, and each explorer must react: the epoch
slider (arrow key) redraws α and the cells, a setting toggled in the method
explorer redraws the curves, and the live search runs a new λ.  Screenshots of
the three explorers go to the test's folder and, when ``MILENAS_SCREENSHOTS``
names a folder (``make test-browser`` passes ``docs/``), there as well.

Needs Chromium (``apt-get install chromium``; or ``MILENAS_CHROMIUM=<path>``);
skipped only when none is found.  Playwright drives it (no ``playwright install``).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from browser_lab import CHROMIUM_ARGS, LabPage, LabServer, find_chromium
from milenas_lib import experiments as ex
from milenas_lib.explorers import METRICS
from milenas_lib.presets import PRESETS

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = find_chromium()
TINY_SEARCH = {"dataset": "synthetic", "per_class": 2, "batch_size": 10, "C": 2, "layers": 3, "epochs": 2}
NOTEBOOKS = {"01_search_walkthrough": ["milenas_lam1"], "02_train_val_gap": ex.FIG2_SETTINGS,
             "09_teaching_walkthrough": ["single_level", "milenas_lam1", "darts_2nd"]}
SCREENSHOTS = {"alpha": "explorer_alpha.png", "methods": "explorer_methods.png", "live": "explorer_live.png"}
#: ``MILENAS_SCREENSHOT_RUNS=results/runs`` (``make test-browser SCREENSHOTS=docs EVIDENCE=results/runs``):
#: the notebooks read that store's committed records of ``MILENAS_SCREENSHOT_PRESET`` (default ``long``:
#: 16 epochs, every seed the notebooks' settings all have) instead of the tiny store, so the explorer
#: pictures in docs/ show a real search's α moving.
EVIDENCE = os.environ.get("MILENAS_SCREENSHOT_RUNS")
EVIDENCE_PRESET = os.environ.get("MILENAS_SCREENSHOT_PRESET") or "long"
EPOCHS = PRESETS[EVIDENCE_PRESET].search["epochs"] if EVIDENCE else 2


def _evidence_seeds(store: Path) -> list[int]:
    """The seeds for which every setting of the three notebooks has a record in ``store``."""
    settings = {key for keys in NOTEBOOKS.values() for key in keys}
    seeds = [{int(path.parent.name.split("-")[0].removeprefix("seed")) for path in (store / key).glob("*/record.json")}
             for key in settings]
    common = sorted(set.intersection(*seeds))
    assert common, f"{store}: no seed has a record of every one of {sorted(settings)}"
    return common


RUN_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving notebook copies parameterised for a tiny, filled run store."""
    if CHROMIUM is None:
        pytest.skip("no Chromium found (install the 'chromium' system package or set MILENAS_CHROMIUM)")
    root = tmp_path_factory.mktemp("lab")
    store, notebooks = root / "store", root / "notebooks"
    notebooks.mkdir()
    if EVIDENCE:
        evidence = store / "results" / "runs" / EVIDENCE_PRESET
        shutil.copytree(Path(EVIDENCE) / EVIDENCE_PRESET, evidence, ignore=shutil.ignore_patterns("checkpoint*", ".lock"))
        values = {"preset": EVIDENCE_PRESET, "seeds": _evidence_seeds(evidence), "device": "cpu",
                  "output_root": str(store), "reuse_only": True}
    else:
        settings = list(dict.fromkeys(key for keys in NOTEBOOKS.values() for key in keys))
        ex.search_runs(settings, [0], "smoke", output_root=store, overrides=TINY_SEARCH, device="cpu", verbose=False,
                       progress=False)
        values = {"seeds": [0], "search_overrides": TINY_SEARCH, "device": "cpu", "output_root": str(store),
                  "reuse_only": True}
    for name in NOTEBOOKS:
        notebook = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
        assert notebook.metadata.get("kernelspec"), f"{name}: no kernelspec, a kernel dialog would block"
        # As papermill does: a cell after the parameters cell that overrides them.
        first = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
        source = "\n".join(f"{key} = {value!r}" for key, value in values.items())
        notebook.cells.insert(first + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
        nbformat.write(notebook, notebooks / f"{name}.ipynb")
    with LabServer(notebooks, root / "state") as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(lab, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1800})  # an explorer fits whole
    yield LabPage(context.new_page(), lab)
    context.close()


def _run_notebook(page: LabPage, name: str) -> None:
    page.open(f"{name}.ipynb", timeout_s=180)
    page.hide_left_area()
    page.run_all(RUN_TIMEOUT_S)
    assert not page.error_outputs(), page.error_outputs()


def _save_screenshot(element, name: str, folder: Path) -> Path:
    path = folder / SCREENSHOTS[name]
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(path))
    extra = os.environ.get("MILENAS_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / SCREENSHOTS[name])
    return path


def _changes(page: LabPage, box, act, timeout_s: float = 120) -> None:
    """``act()`` must replace the explorer's picture (its image's blob URL)."""
    image = box.locator("img.widget-image").first
    before = image.get_attribute("src")
    act()
    page.page.wait_for_function("([img, before]) => img.getAttribute('src') !== before",
                                arg=[image.element_handle(), before], timeout=timeout_s * 1000)
    assert not page.callback_errors(box)


def test_epoch_slider_redraws_alpha_and_cells(page, tmp_path):
    _run_notebook(page, "01_search_walkthrough")
    box = page.widget_box(".widget-play")
    genotype = box.locator(".widget-html").first
    assert f"after epoch {EPOCHS}" in genotype.inner_text()
    handle = box.locator(".noUi-handle").first
    _changes(page, box, lambda: (handle.focus(), handle.press("ArrowLeft")))
    page.page.wait_for_function(f"el => el.innerText.includes('after epoch {EPOCHS - 1}')",
                                arg=genotype.element_handle())
    print("screenshot:", _save_screenshot(box, "alpha", tmp_path))


def test_method_explorer_redraws_when_a_setting_or_metric_changes(page, tmp_path):
    _run_notebook(page, "02_train_val_gap")
    box = page.widget_box(".widget-toggle-button")
    toggle = box.locator("button.widget-toggle-button", has_text="single-level").first
    pressed = "mod-active" in (toggle.get_attribute("class") or "")
    _changes(page, box, toggle.click)
    assert ("mod-active" in (toggle.get_attribute("class") or "")) != pressed
    _changes(page, box, toggle.click)  # and back
    # α entropy tells the settings apart even in a run as tiny as this one's (accuracies barely move).
    _changes(page, box, lambda: box.locator("select").first.select_option(label=METRICS["entropy_normal"]))
    print("screenshot:", _save_screenshot(box, "methods", tmp_path))


def test_live_search_runs_the_lambda_on_the_slider(page, tmp_path):
    _run_notebook(page, "09_teaching_walkthrough")
    box = page.widget_box("button:has-text('run search')")
    handle = box.locator(".noUi-handle").first
    handle.focus()
    for _ in range(4):  # λ = 1 -> 0.3 -> 0.1 -> 0.01 -> 0: single-level beside the first run's λ = 1
        handle.press("ArrowLeft")
    page.page.wait_for_function("el => el.innerText.trim() === '0'", arg=box.locator(".widget-readout").first
                                .element_handle())
    button = box.locator("button", has_text="run search").first
    _changes(page, box, button.click, timeout_s=RUN_TIMEOUT_S)
    page.page.wait_for_function("el => !el.disabled", arg=button.element_handle(), timeout=RUN_TIMEOUT_S * 1000)
    assert not page.callback_errors(box)
    print("screenshot:", _save_screenshot(box, "live", tmp_path))
