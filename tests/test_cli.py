"""The command line: what it accepts (from the method registry) and how it refuses."""
from __future__ import annotations

import json

import pytest

from milenas_lib.registry import method_names
from milenas_lib.cli import build_parser, main


def run_cli(argv: list[str]) -> int:
    """The exit status of ``python -m milenas_lib ARGV`` (argparse exits itself)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_info_command(capsys):
    assert main(["info", "DARTS_V2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["convs"] == [6, 0]
    assert round(info["cifar10"]["params"] / 1e6, 2) == 3.35
    assert round(info["imagenet"]["params"] / 1e6, 1) == 4.7
    assert set(info["cifar10"]) == {"params", "params_with_aux", "mult_adds"}
    assert info["mult_adds_convention"].startswith("conv_linear: convolutions and the classifier")
    assert main(["info", "DARTS_V2"]) == 0
    assert "mult-adds counted as conv_linear: convolutions and the classifier" in capsys.readouterr().out


def test_info_unknown_name_lists_known_and_fails(capsys):
    assert main(["info", "NOPE"]) == 2
    assert "DARTS_V2" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["search", "demo", "bench"])
def test_every_registered_method_is_a_choice(command):
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    option = next(a for a in subparsers[command]._actions if a.dest in ("method", "methods"))
    assert tuple(option.choices) == method_names()


@pytest.mark.parametrize("method", method_names())
def test_lambda_and_order_are_refused_where_the_method_has_none(tmp_path, capsys, method):
    """Checked before any work: exit 2, one line naming the methods that take them, nothing written."""
    for flags, applies, valid in ((["--lambda", "0.5"], method_names(takes_lambda=True), "take λ"),
                                  (["--order", "alpha_then_w"], method_names(has_order=True), "with an order")):
        if method in applies:
            continue
        out = tmp_path / f"{method}{flags[0]}"
        assert run_cli(["search", "--method", method, *flags, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and valid in err and ", ".join(applies) in err
        assert not out.exists()


def test_unknown_method_lists_the_valid_ones(tmp_path, capsys):
    assert run_cli(["search", "--method", "enas", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and all(name in err for name in method_names())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rank, printed", [("0", 1), ("1", 0), ("3", 0)])
def test_under_torchrun_only_rank_0_prints_a_refusal(tmp_path, capsys, monkeypatch, rank, printed):
    """Every process of a torchrun job meets the same bad input; one line for the job, not one per rank."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", rank)
    assert main(["search", "--method", "milenas", "--set", "lam=-1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == printed and (not printed or "λ (lam) must be a finite number" in err)
