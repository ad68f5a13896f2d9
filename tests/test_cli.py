"""The command line: what it accepts (from the method registry) and how it refuses."""
from __future__ import annotations

import json

import pytest

from milenas_lib.registry import method_names
from milenas_lib.cli import main
from milenas_lib.flags import build_parser


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


# --- one front door, one KEY=VALUE reader, --help with defaults ------------------------------------

SUBCOMMANDS = ("info", "search", "train", "bench", "plan", "verify", "demo", "reproduce")


def subparsers() -> dict:
    return next(a for a in build_parser()._actions if a.dest == "command").choices


def test_the_front_door_has_every_subcommand():
    assert tuple(subparsers()) == SUBCOMMANDS


@pytest.mark.parametrize("argv, dest", [
    (["search", "--method", "milenas", "--set"], "set"),
    (["train", "--genotype", "DARTS_V2", "--set"], "set"),
    (["plan", "--param"], "param"),
    (["reproduce", "--param"], "param"),
])
def test_every_key_value_flag_reads_keys_and_values_alike(argv, dest):
    """`-` in KEY is `_` and VALUE is JSON when it parses, under every command that takes KEY=VALUE."""
    given = ["a-b=1", " c_d =[0, 1]", "e=null", "f=imagefolder:/x@64", 'g={"epochs": 2}']
    args = build_parser().parse_args(argv[:-1] + [part for text in given for part in (argv[-1], text)])
    assert getattr(args, dest) == [("a_b", 1), ("c_d", [0, 1]), ("e", None), ("f", "imagefolder:/x@64"),
                                   ("g", {"epochs": 2})]


def test_there_is_one_key_value_reader_and_the_alias_uses_it():
    from milenas_lib.flags import key_value, reproduce_parser

    readers = {a.type for parser in subparsers().values() for a in parser._actions if a.metavar == "KEY=VALUE"}
    alias = reproduce_parser("python -m milenas_lib.reproduce")
    assert readers == {key_value} == {a.type for a in alias._actions if a.metavar == "KEY=VALUE"}
    assert alias.parse_args(["--param", "a-b=1"]).param == [("a_b", 1)]


@pytest.mark.parametrize("text", ["a", "=1", "a b=1", "1a=2"])
def test_a_malformed_key_value_is_refused_before_any_work(capsys, text):
    assert run_cli(["plan", "--param", text]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def help_entries(text: str) -> dict[str, str]:
    """Each option of a --help text (its first spelling) with its whole entry, wrapped lines joined."""
    entries, current = {}, None
    for line in text.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif line.startswith("   ") and current:
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_every_subcommand_gives_each_flag_a_help_line_and_its_default(monkeypatch, capsys, command):
    monkeypatch.setenv("COLUMNS", "100")
    assert run_cli([command, "--help"]) == 0
    entries = help_entries(capsys.readouterr().out)
    flags = {a.option_strings[0] for a in subparsers()[command]._actions if a.option_strings} - {"-h"}
    assert flags <= set(entries)
    for flag in flags:
        entry = " ".join(entries[flag].split())
        assert ("default: " in entry or "(required)" in entry) and "default: None" not in entry, entry


def test_python_m_milenas_lib_reproduce_help_works_from_a_shell():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "milenas_lib", "reproduce", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m milenas_lib reproduce") and "(default: smoke)" in done.stdout


def test_reproduce_under_the_front_door_prints_its_own_command_to_resume(tmp_path, monkeypatch, capsys):
    from milenas_lib import reproduce

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "run", stopped)
    assert main(["reproduce", "--only", "01", "--output-root", str(tmp_path)]) == 130
    assert f"resume: python -m milenas_lib reproduce --only 01 --output-root {tmp_path}" in capsys.readouterr().err
