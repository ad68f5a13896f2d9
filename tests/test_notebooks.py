"""The notebooks: stored thin and in sync with their py:percent twins, and every
one executed through the runner (papermill) with the smoke preset shrunk to
seconds, writing every figure and table it is listed with.

The executions share one output folder and one run store, as `make
reproduce` does, so notebooks 3 and 5 read back notebook 2's runs.  They use
the synthetic stand-in data and a 3-cell supernet: this checks that the
notebooks and the library agree, not what the numbers say.
"""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import nbformat
import papermill
import pytest

from milenas_lib import experiments as ex
from milenas_lib import reproduce
from milenas_lib.experiments.notebook import CLAIMS_REPORT
from milenas_lib.experiments.notebook_specs import notebook_spec, specs_for
from milenas_lib.experiments.spec import NO_RUNS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = reproduce.notebook_paths(REPO / "notebooks")

TINY_SEARCH = {"dataset": "synthetic", "per_class": 2, "batch_size": 8, "C": 4, "layers": 3, "epochs": 2}
TINY_TRAIN = {"dataset": "synthetic", "epochs": 1, "batch_size": 8, "C": 4, "layers": 3, "train_per_class": 2,
              "test_per_class": 2, "eval_batch_size": 20}
# Two seeds, so the mean ± std code paths run too.
TINY_PARAMETERS = {"seeds": [0, 1], "search_overrides": TINY_SEARCH, "train_overrides": TINY_TRAIN,
                   "points": 2, "sweep_epsilons": [1e-2, 1e-8]}


def _load_pair_checker():
    spec = importlib.util.spec_from_file_location("check_notebook_pairs", REPO / "scripts" / "check_notebook_pairs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


# ---------------------------------------------------------------------------
# Stored form (fast).

def test_notebooks_and_py_percent_twins_are_in_sync():
    problems = _load_pair_checker().check(REPO / "notebooks")
    assert not problems, "\n".join(problems)


def test_pair_checker_notices_a_drift(tmp_path):
    source = NOTEBOOKS[0]
    for suffix in (".ipynb", ".py"):
        (tmp_path / (source.stem + suffix)).write_text(source.with_suffix(suffix).read_text())
    twin = tmp_path / (source.stem + ".py")
    twin.write_text(twin.read_text() + "\n# %%\nprint('only in the twin')\n")
    problems = _load_pair_checker().check(tmp_path)
    assert any("differ" in p for p in problems), problems


#: Tag of a cell that teaches by code a student edits: it may hold a short loop (never a definition).
TEACHING_TAG = "teaching"
TEACHING_MAX_LINES = 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin(path):
    """A parameters cell first, then library calls: no definitions, loops or path edits
    (a cell tagged 'teaching' may hold one short loop a student edits)."""
    cells = _code_cells(path)
    assert "parameters" in cells[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    loops = (ast.For, ast.While, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)
    for index, cell in enumerate(cells):
        assert "sys.path" not in cell.source, f"cell {index} edits sys.path"
        teaching = TEACHING_TAG in cell.metadata.get("tags", [])
        if teaching:
            assert len(cell.source.strip().splitlines()) <= TEACHING_MAX_LINES, f"cell {index}: a teaching cell is short"
        for node in ast.walk(ast.parse(cell.source)):
            forbidden = definitions + (() if teaching else loops)
            assert not isinstance(node, forbidden), f"cell {index}: {type(node).__name__} belongs in the library"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_sets_spec_parameters_to_their_defaults(path):
    """The spec declares the parameters; the cell shows some of them, each at the spec's default
    (papermill reads its values: one assignment per line, no second '=' in a comment)."""
    spec = notebook_spec(path.stem)
    cell = _code_cells(path)[0]
    assigned = {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
                if isinstance(node, ast.Assign) for t in node.targets}
    assert "preset" in assigned and set(assigned) <= set(spec.all_parameters), set(assigned) - set(spec.all_parameters)
    assert {k: v for k, v in spec.defaults().items() if k in assigned} == assigned
    assert set(papermill.inspect_notebook(str(path))) == set(assigned)
    assert {p.name for p in spec.parameters} <= set(assigned), "a notebook shows its own parameters"


#: What the declarations of milenas_lib.experiments.needs fetch through: a notebook that calls one of
#: these (``nb.search(...)``, ``ex.search_runs(...)``) restates its spec's runs instead of asking ``nb.runs()``.
RUN_METHODS = {"search", "train", "gradient_error", "evaluation_candidates"}
RUN_FUNCTIONS = {"search_runs", "train_runs", "gradient_error_trajectory", "run_missing"}
#: Which of its spec's lists each ``nb.save_*`` call writes into.
SAVES = {"save_figure": "figures", "save_table": "tables", "save_claims": "reports"}


def _calls_on(cells: list, name: str) -> list[tuple[str, ast.Call]]:
    """The calls ``<name>.<method>(...)`` in the cells' code, each with where it is ("cell 3, line 2")."""
    return [(f"cell {index + 1}, line {node.lineno}", node) for index, cell in enumerate(cells)
            for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == name]


def _saved(where: str, call: ast.Call) -> str:
    """The spec entry a ``nb.save_*`` call writes (``tables/<name>`` for a paper table), or why it cannot be read."""
    if call.func.attr == "save_claims":
        return CLAIMS_REPORT
    keywords = {k.arg: k.value for k in call.keywords}
    name = call.args[1] if len(call.args) > 1 else keywords.get("name")
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return f"<{where}: a name that is not a literal>"
    paper_table = keywords.get("paper_table")
    return f"tables/{name.value}" if isinstance(paper_table, ast.Constant) and paper_table.value else name.value


def spec_problems(path: Path, spec) -> list[str]:
    """How notebook ``path`` departs from its spec: runs restated instead of ``nb.runs()``, and outputs
    saved that the spec does not declare, or declared and never saved."""
    cells = _code_cells(path)
    nb_calls, ex_calls = _calls_on(cells, "nb"), _calls_on(cells, "ex")
    problems = [f"restates its spec's runs: nb.{c.func.attr}(...) in {where}; use nb.runs()"
                for where, c in nb_calls if c.func.attr in RUN_METHODS]
    problems += [f"restates its spec's runs: ex.{c.func.attr}(...) in {where}; use nb.runs()"
                 for where, c in ex_calls if c.func.attr in RUN_FUNCTIONS]
    asked = sum(c.func.attr == "runs" for _, c in nb_calls)
    if asked != (0 if spec.runs is NO_RUNS else 1):
        problems.append(f"asks nb.runs() {asked} times for the runs its spec declares")
    for kind in SAVES.values():
        saved = {_saved(where, c) for where, c in nb_calls if SAVES.get(c.func.attr) == kind}
        declared = set(getattr(spec, kind))
        problems += [f"saves {kind[:-1]} {name!r}, which its spec does not declare"
                     for name in sorted(saved - declared)]
        problems += [f"never saves {kind[:-1]} {name!r}, which its spec declares"
                     for name in sorted(declared - saved)]
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_asks_its_spec_for_its_runs_and_saves_what_it_declares(path):
    """Each notebook has a spec and states nothing of it again: its runs come from ``nb.runs()``,
    and it saves exactly the figures, tables and reports the spec lists."""
    assert path.stem in specs_for(REPO / "notebooks")
    assert spec_problems(path, notebook_spec(path.stem)) == []


def test_the_spec_check_notices_restated_runs_and_undeclared_outputs(tmp_path):
    cells = ['preset = "smoke"',
             'nb = ex.open_notebook("02_train_val_gap", globals())\nrecords = nb.search(ex.FIG2_SETTINGS)',
             'nb.save_table(frame, "fig2_gap", "a table", records)\nnb.save_figure(fig, name, "a figure")']
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbformat.write(notebook, tmp_path / "02_train_val_gap.ipynb")
    problems = spec_problems(tmp_path / "02_train_val_gap.ipynb", notebook_spec("02_train_val_gap"))
    assert problems[:3] == ["restates its spec's runs: nb.search(...) in cell 2, line 2; use nb.runs()",
                            "asks nb.runs() 0 times for the runs its spec declares",
                            "saves figure '<cell 3, line 2: a name that is not a literal>', which its spec does "
                            "not declare"]
    assert "saves table 'fig2_gap', which its spec does not declare" in problems
    assert "never saves table 'fig2_claims', which its spec declares" in problems


# ---------------------------------------------------------------------------
# Execution: the runner over every notebook (one kernel per notebook): `slow`,
# left out of `make test-fast`.

@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    report = reproduce.run("smoke", parameters=TINY_PARAMETERS, output_root=root, notebooks_dir=REPO / "notebooks",
                           log=lambda line: None)
    return root, report


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_writes_its_figures_and_tables(reproduced, path):
    root, report = reproduced
    assert path.stem in report.timings
    assert not reproduce.missing_outputs(path.stem, root, "smoke")
    executed = nbformat.read(root / "results" / "smoke" / "executed" / path.name, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    manifest = json.loads((root / "results" / "smoke" / path.stem / "manifest.json").read_text())
    assert manifest["preset"] == "smoke"
    for artifact in manifest["artifacts"]:
        assert artifact["data_source"] and artifact["caption"], artifact
        for relative in artifact["paths"]:
            assert (root / relative).exists(), relative
    for name in notebook_spec(path.stem).tables:
        folder = root / "results" / "smoke" / ("" if "/" in name else path.stem)
        meta = json.loads((folder / f"{name}.meta.json").read_text())
        assert meta["provenance"]["git_commit"] is not None or meta["provenance"].get("torch"), meta


@pytest.mark.slow
def test_index_lists_every_figure_and_table(reproduced):
    root, report = reproduced
    index = report.index.read_text()
    for spec in specs_for(REPO / "notebooks").values():
        for figure in spec.figures:
            assert f"[{figure}](../../figures/smoke/{figure}.png)" in index, figure
        for table in spec.tables:
            assert f"[{table.split('/')[-1]}]" in index, table
    assert "smoke" in index and "synthetic" in index


@pytest.mark.slow
def test_figures_say_which_data_they_show(reproduced):
    root, _ = reproduced
    manifest = json.loads((root / "results" / "smoke" / "02_train_val_gap" / "manifest.json").read_text())
    figure = next(a for a in manifest["artifacts"] if a["name"] == "fig2_train_val_gap")
    assert "NOT CIFAR-10" in figure["data_source"] and figure["n"] == "n = 2 seeds per setting"


@pytest.mark.slow
def test_reproduce_trains_exactly_the_planned_runs(reproduced):
    """Every run folder in the store is one the plan lists, all stored: none trained
    twice under another name while the searches that choose a cell were running."""
    from milenas_lib.experiments.plan import make_plan

    root, _ = reproduced
    plan = make_plan("smoke", parameters=TINY_PARAMETERS, output_root=str(root), device_type="cpu",
                     notebooks_dir=REPO / "notebooks")
    assert all(need.status == "stored" for need in plan.needs), [n.description for n in plan.missing]
    stored = {path.parent.resolve() for path in (root / "results" / "runs").rglob("record.json")}
    assert stored == {need.folder.resolve() for need in plan.needs}


PROVENANCE = {"git_commit", "milenas_lib", "python", "torch", "torchvision", "numpy", "device", "device_name",
              "platform", "created", "gpu_hours", "resumed", "peak_mem_mib", "load_1min", "digest"}


def _comparable(value, root: Path):
    """A record without timings (``*_s``) and provenance, its paths relative to ``root``."""
    if isinstance(value, dict):
        return {k: _comparable(v, root) for k, v in value.items() if k not in PROVENANCE and not k.endswith("_s")}
    if isinstance(value, list):
        return [_comparable(v, root) for v in value]
    return value.replace(str(root), "<root>") if isinstance(value, str) else value


@pytest.mark.slow
def test_runs_one_after_another_give_the_records_of_the_parallel_reproduce(reproduced, tmp_path):
    """The runs of notebooks 6 and 8 (a search measured along the way, and trainings
    that wait for their search) with WORKERS=1, against the parallel run's records."""
    from milenas_lib.experiments.plan import run_notebooks_missing

    root, _ = reproduced
    assert run_notebooks_missing("smoke", ["06", "08"], parameters=TINY_PARAMETERS, output_root=str(tmp_path),
                                 workers=1, notebooks_dir=REPO / "notebooks", log=lambda line: None) >= 6
    serial = sorted((tmp_path / "results" / "runs").rglob("record.json"))
    for path in serial:
        ours = _comparable(json.loads(path.read_text()), tmp_path)
        parallel = root / path.relative_to(tmp_path)
        assert ours == _comparable(json.loads(parallel.read_text()), root), path.relative_to(tmp_path)


@pytest.mark.slow
def test_rebuilding_from_stored_runs_trains_nothing(reproduced):
    """reuse_only=True rebuilds a figure from the store; a missing run is an error, not a silent retrain."""
    root, _ = reproduced
    records = ex.search_runs(ex.FIG2_SETTINGS, [0, 1], "smoke", output_root=root, overrides=TINY_SEARCH,
                             reuse_only=True, verbose=False)
    assert len(records) == 10
    with pytest.raises(FileNotFoundError, match="reuse_only=True"):
        ex.search_runs(ex.FIG2_SETTINGS, [7], "smoke", output_root=root, overrides=TINY_SEARCH, reuse_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_notebook_stops_the_run_naming_notebook_and_cell(tmp_path, workers):
    """One at a time, nothing after the failing notebook runs; two at a time,
    the one running beside it finishes and no further one starts."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()

    def write(name: str, *sources: str) -> None:
        cells = [nbformat.v4.new_code_cell('preset = "smoke"', metadata={"tags": ["parameters"]})]
        cells += [nbformat.v4.new_code_cell(source) for source in sources]
        kernel = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel}), notebooks / name)

    write("01_broken.ipynb", "x = 1", "raise RuntimeError('broken on purpose')")
    write("02_slower.ipynb", "import time\ntime.sleep(8)")
    write("03_never_run.ipynb", "x = 1")
    # Every notebook declares itself once, these in their folder's notebook_specs.py.
    (notebooks / "notebook_specs.py").write_text(
        "from milenas_lib.experiments.spec import NotebookSpec\n"
        "SPECS = [NotebookSpec(name) for name in ('01_broken', '02_slower', '03_never_run')]\n")
    with pytest.raises(reproduce.NotebookFailed) as failure:
        reproduce.run("smoke", output_root=tmp_path, notebooks_dir=notebooks, workers=workers, log=lambda line: None)
    message = str(failure.value)
    assert "01_broken" in message and "cell 3 of 3" in message and "broken on purpose" in message
    executed = tmp_path / "results" / "smoke" / "executed"
    assert (executed / "02_slower.ipynb").exists() == (workers == 2)
    assert not (executed / "03_never_run.ipynb").exists()


# ---------------------------------------------------------------------------
# Figures are displayed in the notebooks, not only written to figures/.

FIGURE_CALLS = ("save_figure(", "explorers.")


def _image_outputs(cell) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_cell_shows_its_figure(reproduced, path):
    """Each cell that draws a figure (saved, or an explorer's picture) holds an image in
    the executed copy: the second, third ... figure of the kernel session too."""
    root, _ = reproduced
    executed = nbformat.read(root / "results" / "smoke" / "executed" / path.name, as_version=4)
    cells = [c for c in executed.cells if c.cell_type == "code" and any(k in c.source for k in FIGURE_CALLS)]
    missing = [c.source.splitlines()[0] for c in cells if not _image_outputs(c)]
    assert not missing, f"figure cells without an image output: {missing}"
    for cell in cells:  # and no echo of the saved paths
        texts = [o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])]
        assert not any("PosixPath" in text for text in texts), texts


def test_a_second_figure_in_one_kernel_is_displayed(tmp_path):
    """The inline backend shows every figure of a session: the print style must not
    switch interactive mode off when the first figure loads the backend."""
    from nbclient import NotebookClient

    sources = ["from milenas_lib import plots\nfig, ax = plots.figure()\nax.plot([1, 2]);",
               "fig, ax = plots.figure()\nax.plot([2, 1]);",
               "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1]);"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources],
                                        metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                 "display_name": "Python 3"}})
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert [_image_outputs(cell) for cell in notebook.cells] == [1, 1, 1]
