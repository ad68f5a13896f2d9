"""``python -m milenas_lib COMMAND``: info, search, train, bench, plan, verify, demo, reproduce.

What each command does; what it accepts (flags, defaults, help) is in :mod:`milenas_lib.flags`.
Every command validates its input before any work starts; a bad value exits
with status 2 and one line that names the problem and the fix.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .config import METHODS, search_config, train_config
from .flags import PROG, UsageError, build_parser, error_families
from .names import ORDERS, RECORD_NAME
from .registry import get_method, method_names
from .space.genotype import resolve_genotype


def cmd_info(args: argparse.Namespace) -> int:
    from .networks import genotype_info

    info = genotype_info(resolve_genotype(args.genotype))
    if args.json:
        print(json.dumps(info))
        return 0
    print(info["text"])
    print(f"conv ops (normal, reduce): {tuple(info['convs'])}")
    for dataset in ("cifar10", "imagenet"):
        counts = info[dataset]
        print(f"{dataset:9s} params {counts['params'] / 1e6:.2f}M  with aux {counts['params_with_aux'] / 1e6:.2f}M  "
              f"mult-adds {counts['mult_adds'] / 1e6:.0f}M")
    print(f"mult-adds counted as {info['mult_adds_convention']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import VerifyError, verify

    try:
        result = verify(args.record, args.epochs, args.device, args.data_root)
    except VerifyError as error:
        raise UsageError(str(error)) from None
    print(result.summary())
    return 0 if result.matches else 1


def _search_overrides(args: argparse.Namespace) -> dict:
    """The search settings the flags give; λ or an order for a method that has none is refused."""
    method = get_method(args.method)
    if args.lam is not None and not method.takes_lambda:
        raise UsageError(f"--lambda does not apply to {method.name}; methods that take λ: "
                         + ", ".join(method_names(takes_lambda=True)))
    if args.order != ORDERS[0] and not method.has_order:
        raise UsageError(f"--order does not apply to {method.name}; methods with an order: "
                         + ", ".join(method_names(has_order=True)))
    overrides = {"method": args.method, "order": args.order, "seed": args.seed, "device": args.device}
    for name in ("lam", "epochs", "batch_size", "data_root", "num_threads"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.data:
        overrides["dataset"] = args.data
    overrides.update(dict(args.set or []))
    return overrides


def _download_first(args: argparse.Namespace, dataset: str) -> None:
    """``--download``: fetch the official CIFAR-10 before any work, into ``--data-root`` (or the
    default download folder, which the data loader searches), and run on that copy."""
    if not args.download:
        return
    if dataset != "cifar10":
        raise UsageError(f"--download fetches CIFAR-10 only; drop it for --data {dataset}")
    from .data import download_cifar10

    args.data_root = str(download_cifar10(args.data_root))
    print(f"data: official CIFAR-10 in {args.data_root}", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    from .loops.search import run_search

    if args.store is not None and args.out:
        raise UsageError("--store chooses the run's folder in the notebooks' run store; drop --out")
    _download_first(args, args.data or "cifar10")
    seeds = args.seeds if args.seeds else [args.seed]
    configs = [search_config(args.preset, **{**_search_overrides(args), "seed": seed}) for seed in seeds]
    for config in configs:
        out = _search_folder(args, config, len(configs))
        observe = _tensorboard_writer(args, out)
        result = None
        try:
            result = run_search(config, out, progress=not args.quiet, observe=observe)
        finally:
            if observe is not None:
                observe.close(result.record if result is not None else None)
        if os.environ.get("RANK", "0") == "0":  # under torchrun only process 0 reports
            print(f"record: {out / RECORD_NAME}")
            print(f"genotype: {result.genotype}")
    return 0


def _search_folder(args: argparse.Namespace, config, runs: int) -> Path:
    """``--out``, or a folder per seed under ``runs/search``, or with ``--store`` the folder the
    notebooks read this run from (same identity and trust checks as their own runs)."""
    if args.store is not None:
        from .experiments.store import store_folder
        from .records.trust import settle

        out = store_folder(config, args.preset, args.store or None)
        settle(out, log=lambda line: print(line, file=sys.stderr))  # as the notebooks' runner does first
        return out
    lam = f"_lam{config.lam:g}" if get_method(config.method).takes_lambda else ""
    return Path(args.out) if args.out and runs == 1 else Path(args.out or "runs/search") / (
        f"{config.method}{lam}_{args.preset}_seed{config.seed}")


def _tensorboard_writer(args: argparse.Namespace, out: Path):
    """``--tensorboard DIR``: the run's epochs as event files in ``DIR/<run>`` (the store's
    runs as ``DIR/<setting>/<folder>``), written from the record as each epoch closes."""
    if not args.tensorboard:
        return None
    from .loops.tensorboard import TensorBoardWriter

    name = Path(out.parent.name) / out.name if args.store is not None else Path(out.name)
    return TensorBoardWriter(Path(args.tensorboard).expanduser() / name)


def _genotype_label(source: str) -> str:
    """A registered name, a JSON file's name (a search record's folder name), or "custom" for inline text."""
    from .space.genotype import GENOTYPES

    if source in GENOTYPES:
        return source
    path = Path(source)
    if path.suffix != ".json":
        return "custom"
    return path.parent.name if path.name == RECORD_NAME else path.stem


def cmd_train(args: argparse.Namespace) -> int:
    """Train a genotype's evaluation network; under torchrun, one process per device."""
    from .data import DataNotFoundError
    from .loops.train import run_training

    resolve_genotype(args.genotype)  # an unknown name fails here, listing the valid ones
    _download_first(args, args.dataset)
    overrides: dict = {"genotype": args.genotype, "seed": args.seed, "device": args.device}
    for name in ("epochs", "batch_size", "data_root", "num_threads", "workers", "bf16", "channels_last", "compile",
                 "auxiliary"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    overrides.update(dict(args.set or []))
    config = train_config(args.preset, dataset=args.dataset, **overrides)
    default_out = f"runs/train/{_genotype_label(args.genotype)}_{config.dataset}_{args.preset}_seed{config.seed}"
    out = Path(args.out or default_out)
    try:
        result = run_training(config, out, progress=not args.quiet)
    except DataNotFoundError as error:
        raise UsageError(str(error)) from None
    if result.rank != 0:
        return 0  # under torchrun only process 0 reports
    record = result.record
    source = record["data_source"]
    print(f"data: {source['source']} ({source['train_images']} train / {source['test_images']} test images)"
          + (f"; {source['detail']['note']}" if source.get("detail", {}).get("note") else ""))
    if result.completed:
        print(f"final-epoch test top-1 {record['final_test_top1']:.4f}, top-5 {record['final_test_top5']:.4f} "
              f"after {len(record['epochs'])} epochs, {record['time_s']:.0f} s on {record['world_size']} "
              f"process(es) ({record['device_name']})")
    print(f"record: {out / RECORD_NAME}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_table, run_bench

    try:
        report = run_bench(args.device, args.size, args.methods, args.steps, num_threads=args.num_threads,
                           channels_last=args.channels_last, log=lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("bench: interrupted; its worker process is stopped, nothing was saved", file=sys.stderr)
        return 130
    if not args.json:
        print(format_table(report))
    print(json.dumps(report))
    if set(args.methods) >= set(METHODS):  # every method timed: this machine's figures for `plan`
        from .costs import save_calibration

        print(f"per-step figures for `plan` saved to {save_calibration(report)}", file=sys.stderr)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Every run the notebooks need, which are in the store, and the cost of the rest (experiments/plan.py)."""
    from .experiments.plan import format_plan, make_plan

    device = None if args.device == "auto" else args.device
    try:
        plan = make_plan(args.preset, args.notebooks, seeds=args.seeds, parameters=dict(args.param or []),
                         output_root=args.output_root, device_type=device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(format_plan(plan, args.workers, args.per_gpu, args.gpus))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The end-to-end smoke pipeline: data, supernet, a short search, a genotype and its size."""
    from .loops.search import run_search
    from .networks import genotype_info

    config = search_config(args.preset, method=args.method)
    result = run_search(config, Path(args.out), progress=not args.quiet)
    info = genotype_info(result.genotype)
    print(f"data: {result.record['data_source']['source']}")
    print(f"derived genotype ({config.method}, {args.preset} preset): {result.genotype}")
    print(f"conv ops {tuple(info['convs'])}; CIFAR-10 network {info['cifar10']['params'] / 1e6:.2f}M params, "
          f"ImageNet network {info['imagenet']['params'] / 1e6:.2f}M params")
    print(f"record: {Path(args.out) / RECORD_NAME}")
    return 0


def _from_rank_zero(message: str) -> None:
    """Print ``message`` to stderr once per job: under ``torchrun`` every process meets the same bad
    input (or the same interruption), and only rank 0 says so (``RANK`` unset: a single process)."""
    if os.environ.get("RANK", "0").strip() in ("", "0"):
        print(message, file=sys.stderr)


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Every notebook's missing runs, then the notebooks (:mod:`milenas_lib.reproduce`, imported only
    here: it loads the notebooks' stack, which no other command needs)."""
    from .reproduce import run_command

    return run_command(args)


#: The function behind each subcommand (milenas_lib/flags.py declares their flags).
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": cmd_info, "search": cmd_search, "train": cmd_train, "bench": cmd_bench, "plan": cmd_plan,
    "verify": cmd_verify, "demo": cmd_demo, "reproduce": cmd_reproduce}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = f"{PROG} {shlex.join(argv)}"  # what reproduce prints as the command that resumes
    bad_input, run_failures = error_families()
    from .records.run_dir import RunInterrupted

    try:
        return COMMANDS[args.command](args)
    except RunInterrupted as interruption:  # checkpoint written: 130 for SIGINT, 143 for SIGTERM
        _from_rank_zero(str(interruption))
        return interruption.exit_code
    except bad_input as err:
        _from_rank_zero(f"error: {err}")
        return 2
    except run_failures as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
