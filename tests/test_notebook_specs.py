"""A notebook is declared once, by its spec: a throw-away notebook with a spec in a
temporary folder is planned, injected, validated and checked from that one place."""
from __future__ import annotations

import pandas as pd
import pytest

from milenas_lib import reproduce
from milenas_lib.experiments import head
from milenas_lib.experiments.notebook_specs import SPECS, notebook_spec, specs_for
from milenas_lib.experiments.params import ParameterError
from milenas_lib.experiments.plan import make_plan
from milenas_lib.experiments.spec import NotebookSpec, UndeclaredOutput

THROWAWAY_SPECS = '''
from milenas_lib.experiments.needs import Searches
from milenas_lib.experiments.params import resolve_number
from milenas_lib.experiments.spec import NotebookSpec, Parameter
from milenas_lib.paper.settings import milenas_setting

SPECS = [NotebookSpec(
    "99_throwaway",
    (Parameter("my_lam", 0.5, lambda v, preset: resolve_number(v, "my_lam", float, minimum=0), "λ of the search"),),
    runs=Searches(lambda nb: [milenas_setting(nb.my_lam)]),
    figures=("throwaway_figure",), tables=("throwaway_table", "tables/throwaway_paper_table"),
    reports=("throwaway_report",), run_first=True)]
'''
OVERRIDES = {"dataset": "synthetic", "per_class": 4, "epochs": 3}


@pytest.fixture
def folder(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "notebook_specs.py").write_text(THROWAWAY_SPECS)
    (notebooks / "99_throwaway.py").write_text('# %% tags=["parameters"]\npreset = "smoke"\n')
    (notebooks / "99_throwaway.ipynb").write_text("{}")
    (notebooks / "02_train_val_gap.ipynb").write_text("{}")
    return notebooks


def test_plan_lists_the_runs_of_a_notebook_declared_only_by_its_spec(folder, tmp_path):
    options = dict(output_root=str(tmp_path), device_type="cpu", notebooks_dir=folder,
                   parameters={"search_overrides": OVERRIDES})
    plan = make_plan("smoke", ["99"], **options)
    assert [(n.kind, n.description, n.notebooks) for n in plan.needs] == [
        ("search", "search milenas_lam0.5 seed 0", ["99_throwaway"])]
    plan = make_plan("smoke", ["99"], seeds=[0, 1], **{**options, "parameters": {"my_lam": 2, **options["parameters"]}})
    assert [n.description for n in plan.needs] == ["search milenas_lam2 seed 0", "search milenas_lam2 seed 1"]
    assert "99_throwaway" not in SPECS and "99_throwaway" not in specs_for(tmp_path)  # only where it is declared


def test_reproduce_injects_orders_and_checks_outputs_from_the_spec(folder, tmp_path):
    assert reproduce.declared_parameters(folder / "99_throwaway.ipynb")["my_lam"] == 0.5
    assert [p.stem for p in reproduce.notebook_paths(folder)] == ["99_throwaway", "02_train_val_gap"]  # run_first
    missing = reproduce.missing_outputs("99_throwaway", tmp_path, "smoke", folder)
    assert missing == ["figures/smoke/throwaway_figure.png", "figures/smoke/throwaway_figure.pdf",
                       "results/smoke/99_throwaway/throwaway_table.csv",
                       "results/smoke/tables/throwaway_paper_table.csv", "results/smoke/throwaway_report.md",
                       "results/smoke/throwaway_report.json"]
    for relative in missing:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("")
    assert reproduce.missing_outputs("99_throwaway", tmp_path, "smoke", folder) == []
    assert reproduce.missing_outputs("99_throwaway", tmp_path, "medium", folder)  # another preset's folders


def test_the_notebook_checks_its_parameters_with_the_spec(folder, tmp_path):
    namespace = {"preset": "smoke", "my_lam": "1.5", "In": [], "unrelated": 3}  # a kernel's globals()
    nb = head.open_notebook("99_throwaway", namespace, notebooks_dir=folder, output_root=str(tmp_path))
    assert (nb.my_lam, nb.seeds, nb.device) == (1.5, [0], "auto")
    with pytest.raises(ParameterError, match="my_lam must be a number of at least 0"):
        head.open_notebook("99_throwaway", {"my_lam": -1}, notebooks_dir=folder)
    with pytest.raises(ParameterError, match=r"declares no parameter\(s\) \['lam'\]"):
        head.open_notebook("99_throwaway", notebooks_dir=folder, lam=1.0)
    with pytest.raises(ParameterError, match="no spec for notebook '98_other'"):
        notebook_spec("98_other", folder)


def test_the_notebook_runs_what_its_spec_declares_in_the_planned_folders(folder, tmp_path):
    """``nb.runs()`` asks the spec: with ``reuse_only`` nothing is trained, and the missing run it names is
    the one the plan lists for the same parameters."""
    options = {"my_lam": 2, "search_overrides": OVERRIDES, "output_root": str(tmp_path)}
    planned = make_plan("smoke", ["99"], device_type="cpu", notebooks_dir=folder, output_root=str(tmp_path),
                        parameters={"my_lam": 2, "search_overrides": OVERRIDES})
    nb = head.open_notebook("99_throwaway", notebooks_dir=folder, reuse_only=True, **options)
    with pytest.raises(FileNotFoundError, match="1 search run") as missing:
        nb.runs()
    assert [str(need.folder) for need in planned.needs] == [str(missing.value).splitlines()[1].strip()]
    assert "milenas_lam2" in str(missing.value) and not (tmp_path / "results" / "runs").exists()


def test_an_output_the_spec_does_not_declare_is_refused(folder, tmp_path):
    nb = head.open_notebook("99_throwaway", notebooks_dir=folder, output_root=str(tmp_path))
    table = pd.DataFrame({"a": [1]})
    with pytest.raises(UndeclaredOutput) as refused:
        nb.save_table(table, "other_table", "a table")
    assert str(refused.value) == ("notebook 99_throwaway declares no table 'other_table'; its tables: "
                                  "throwaway_table, tables/throwaway_paper_table (add it to the notebook's spec)")
    with pytest.raises(UndeclaredOutput, match="declares no table 'tables/throwaway_table'"):
        nb.save_table(table, "throwaway_table", "a table", paper_table=True)  # declared in its notebook's folder
    with pytest.raises(UndeclaredOutput, match="declares no figure 'other'; its figures: throwaway_figure"):
        nb.save_figure(None, "other", "a figure")
    with pytest.raises(UndeclaredOutput, match="declares no report 'claims'; its reports: throwaway_report"):
        nb.save_claims(None, None, [])
    assert not (tmp_path / "results").exists()
    nb.save_table(table, "throwaway_table", "a table")
    nb.save_table(table, "throwaway_paper_table", "a paper table", paper_table=True)
    assert reproduce.missing_outputs("99_throwaway", tmp_path, "smoke", folder)[-2:] == [
        "results/smoke/throwaway_report.md", "results/smoke/throwaway_report.json"]


def test_a_spec_whose_runs_are_no_declaration_is_refused():
    with pytest.raises(TypeError, match="98_old: runs must be a run declaration"):
        NotebookSpec("98_old", runs=lambda nb, resolve_data: [])


def test_plan_only_prints_the_notebooks_runs_and_runs_nothing(folder, tmp_path):
    with pytest.raises(head.PlanOnly) as stopped:
        head.open_notebook("99_throwaway", {"plan_only": True, "search_overrides": OVERRIDES},
                           notebooks_dir=folder, output_root=str(tmp_path))
    assert "search milenas_lam0.5 seed 0" in str(stopped.value) and "missing" in str(stopped.value)
    assert not (tmp_path / "results").exists()


def test_a_parameter_papermill_injected_that_the_spec_lacks_is_refused(folder, tmp_path):
    """papermill only warns about an unknown ``-p`` name; the notebook's first cell refuses it."""
    injected = '# Parameters\npreset = "smoke"\ncolour = "red"\n'
    namespace = {"preset": "smoke", "colour": "red", "_ih": ["", 'preset = "smoke"\n', injected]}
    with pytest.raises(ParameterError, match=r"declares no parameter\(s\) \['colour'\]"):
        head.open_notebook("99_throwaway", namespace, notebooks_dir=folder, output_root=str(tmp_path))
    namespace["_ih"][2] = '# Parameters\npreset = "smoke"\nmy_lam = 2\n'
    namespace["my_lam"] = 2  # a declared one goes through; a global the user set is not papermill's
    assert head.open_notebook("99_throwaway", namespace, notebooks_dir=folder, output_root=str(tmp_path)).my_lam == 2


def test_reproduce_refuses_a_preset_parameter_that_differs_from_its_flag(folder, tmp_path, capsys, monkeypatch):
    """The pre-pass plans with --preset; the notebooks would then run another preset's searches."""
    from milenas_lib.experiments import plan

    def planned(*args, **kwargs):
        raise AssertionError("runs were planned despite the conflict")

    monkeypatch.setattr(plan, "run_notebooks_missing", planned)
    assert reproduce.main(["--preset", "smoke", "--param", "preset=paper", "--notebooks", str(folder),
                           "--output-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "reproduce: error: --param preset=paper conflicts with --preset smoke; set it with --preset only"
    with pytest.raises(ValueError, match="--param output_root=/elsewhere conflicts with --output-root"):
        reproduce.check_driver_parameters("smoke", {"output_root": "/elsewhere"}, tmp_path)
    reproduce.check_driver_parameters("smoke", {"preset": "smoke", "output_root": str(tmp_path)}, tmp_path)
    assert not (tmp_path / "results").exists()
