"""``python -m milenas_lib COMMAND``: info, search, train, bench, plan, verify, demo.

Every command validates its input before any work starts; a bad value exits
with status 2 and one line that names the problem and the fix.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .config import (
    METHODS,
    TRAIN_DATASETS,
    ConfigError,
    search_config,
    train_config,
)
from .names import DEVICES, ORDERS, RECORD_NAME
from .presets import PRESETS
from .registry import get_method, method_names
from .space.genotype import GenotypeError, resolve_genotype


#: --download's help, shared by every command that has the flag.
DOWNLOAD_HELP = ("first fetch the official CIFAR-10 (md5-checked, by torchvision; needs internet) into --data-root, "
                 "or ~/.cache/milenas-kit/cifar10 (MILENAS_CACHE_DIR) without one; a complete copy is kept")


class UsageError(Exception):
    """Bad input found before any work: printed as one line, exit status 2."""


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


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as JSON (numbers, true/false, null, lists), else as text."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


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


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _error_families() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Errors that carry a message meant for the user: bad input (status 2) and
    runs that had to stop (status 1).  Anything else keeps its traceback."""
    from .data import ArchiveError, CacheDirError, DataNotFoundError, DataSizeError
    from .data.image_tree import ImageTreeError
    from .records.guard import DiskSpaceError, RunLockedError
    from .records.run_dir import CheckpointMismatchError, CorruptRunError, GPUOutOfMemoryError, OutDirError
    from .records.provenance import DeviceUnavailableError

    from .loops.tensorboard import TensorBoardUnavailable

    bad_input = (ConfigError, GenotypeError, UsageError, DataNotFoundError, ArchiveError, CheckpointMismatchError,
                 RunLockedError, DeviceUnavailableError, CorruptRunError, OutDirError, DataSizeError, CacheDirError,
                 ImageTreeError, TensorBoardUnavailable)
    return bad_input, (DiskSpaceError, FloatingPointError, GPUOutOfMemoryError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m milenas_lib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="conv counts, params and mult-adds of a genotype")
    info.add_argument("genotype", help="a registered name (e.g. DARTS_V2) or a genotype JSON file")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=cmd_info)

    search = commands.add_parser("search", help="run or resume an architecture search")
    search.add_argument("--method", required=True, choices=METHODS, metavar="METHOD",
                        help="one of: " + ", ".join(METHODS))
    search.add_argument("--lambda", dest="lam", type=float, help="λ of Eq. 5 (default 1)")
    search.add_argument("--order", default=ORDERS[0], choices=ORDERS,
                        help="MiLeNAS' step: simultaneous (2 passes), the authors' alpha_then_w (3) or "
                             "Algorithm 1's w_then_alpha (3)")
    search.add_argument("--preset", default="smoke", choices=tuple(PRESETS))
    search.add_argument("--epochs", type=_positive_int)
    search.add_argument("--batch-size", type=_positive_int)
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--seeds", type=int, nargs="+", help="several seeds, one run directory each")
    search.add_argument("--device", default="auto", choices=DEVICES)
    search.add_argument("--data", "--dataset", dest="data", metavar="DATA",
                        help="cifar10 (default), synthetic, or imagefolder:PATH[@RES]: your own images in "
                        "PATH/<class>/<image>, resized to RESxRES (default 32)")
    search.add_argument("--data-root", help="folder with cifar-10-batches-py or the JPEG archive")
    search.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
    search.add_argument("--num-threads", type=_positive_int)
    search.add_argument("--set", type=_setting, action="append", metavar="KEY=VALUE",
                        help="any other SearchConfig setting, VALUE as JSON, e.g. --set C=8 --set per_class=null")
    search.add_argument("--out", help="run directory (default runs/search/<method>_<preset>_seed<S>)")
    search.add_argument("--store", nargs="?", const="", metavar="OUTPUT_ROOT",
                        help="write the run into the notebooks' run store (OUTPUT_ROOT/results/runs/<preset>/...; "
                        "default: this checkout's), where a notebook of the same preset and settings reads it "
                        "instead of training it")
    search.add_argument("--tensorboard", metavar="DIR", help="also write each run's per-epoch curves, τ, step times and "
                        "α heatmaps as TensorBoard events under DIR (record.json stays the source; needs the "
                        "tensorboard extra)")
    search.add_argument("--quiet", action="store_true", help="no progress bars")
    search.set_defaults(run=cmd_search)

    train = commands.add_parser(
        "train", help="train a genotype from scratch (CIFAR-10, or ImageNet from an ImageFolder tree); "
        "under torchrun --nproc-per-node N, on N devices")
    train.add_argument("--genotype", required=True, help="a registered name (e.g. DARTS_V2), genotype JSON, or a "
                       "search record.json")
    train.add_argument("--dataset", default="cifar10", choices=TRAIN_DATASETS)
    train.add_argument("--preset", default="smoke", choices=tuple(PRESETS))
    train.add_argument("--data-root", help="cifar10: folder with cifar-10-batches-py or the JPEG archive; "
                       "imagenet: ImageFolder tree with train/ and val/")
    train.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int, help="global batch, over all processes")
    train.add_argument("--device", default="auto", choices=DEVICES)
    train.add_argument("--num-threads", type=_positive_int)
    train.add_argument("--workers", type=int, help="DataLoader processes per training process (imagenet)")
    train.add_argument("--auxiliary", action=argparse.BooleanOptionalAction, help="auxiliary head (weight 0.4)")
    for flag, what in (("bf16", "bf16 autocast"), ("channels-last", "channels_last memory format"),
                       ("compile", "torch.compile")):
        train.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, help=f"{what} (CUDA only; default off)")
    train.add_argument("--set", type=_setting, action="append", metavar="KEY=VALUE",
                       help="any other TrainConfig setting, VALUE as JSON (3, 0.1, true, null), e.g. --set C=16 "
                       "--set train_per_class=null (repeatable)")
    train.add_argument("--out", help="run directory (default runs/train/<genotype>_<dataset>_<preset>_seed<S>); "
                       "a directory with a checkpoint resumes")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=cmd_train)

    bench = commands.add_parser("bench", help="search-step speed of every method against darts_2nd, one run")
    bench.add_argument("--device", default="cpu", choices=DEVICES)
    bench.add_argument("--size", default="paper", choices=tuple(PRESETS),
                       help="time the supernet of this search preset")
    bench.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD")
    bench.add_argument("--steps", type=_positive_int, default=3)
    bench.add_argument("--num-threads", type=_positive_int, help="CPU threads (default 1 on the CPU)")
    bench.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")
    bench.set_defaults(run=cmd_bench)

    plan = commands.add_parser("plan", help="the runs the notebooks need, which are stored, and the cost of the rest")
    plan.add_argument("--preset", default="smoke", choices=tuple(PRESETS))
    plan.add_argument("--notebooks", nargs="+", metavar="NN", help="only these notebooks, e.g. 02 03 (default: all)")
    plan.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the preset's)")
    plan.add_argument("--param", type=_setting, action="append", metavar="KEY=VALUE",
                      help="a notebook parameter, as `make reproduce` would pass it (VALUE as JSON)")
    plan.add_argument("--output-root", help="the folder holding results/ (default: this checkout)")
    plan.add_argument("--device", default="auto", choices=DEVICES, help="cost in CPU-hours or GPU-hours "
                      "(auto: a GPU if this machine has one)")
    plan.add_argument("--workers", type=_positive_int, help="wall clock with this many runs at a time")
    plan.add_argument("--per-gpu", type=_positive_int, help="wall clock with this many runs per GPU")
    plan.add_argument("--gpus", type=_positive_int, default=1, help="GPUs for the wall clock (default 1)")
    plan.set_defaults(run=cmd_plan)

    verify = commands.add_parser("verify", help="check a record's consistency, rerun its config and seed from "
                                 "scratch and compare: exactly on its float path, by fingerprint and spread on another")
    verify.add_argument("record", help="a run's record.json or its folder")
    verify.add_argument("--epochs", type=_positive_int, help="rerun only the first K epochs (default: all)")
    verify.add_argument("--device", default="cpu", choices=DEVICES)
    verify.add_argument("--data-root", help="where the data the record names is (default: the kit's usual search)")
    verify.set_defaults(run=cmd_verify)

    demo = commands.add_parser("demo", help="end-to-end pipeline: data, search, genotype and its size")
    demo.add_argument("--method", default="milenas", choices=METHODS)
    demo.add_argument("--preset", default="smoke", choices=tuple(PRESETS))
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(run=cmd_demo)
    return parser


def _from_rank_zero(message: str) -> None:
    """Print ``message`` to stderr once per job: under ``torchrun`` every process meets the same bad
    input (or the same interruption), and only rank 0 says so (``RANK`` unset: a single process)."""
    if os.environ.get("RANK", "0").strip() in ("", "0"):
        print(message, file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    bad_input, run_failures = _error_families()
    run: Callable[[argparse.Namespace], int] = args.run
    from .records.run_dir import RunInterrupted

    try:
        return run(args)
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
