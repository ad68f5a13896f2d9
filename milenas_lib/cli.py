"""``python -m milenas_lib COMMAND``: info, search, demo.

Every command validates its input before any work starts; a bad value exits
with status 2 and one line that names the problem and the fix.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .config import DEVICES, METHODS, ORDERS, SEARCH_PRESETS, ConfigError, search_config
from .space.genotype import GenotypeError, resolve_genotype


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
    return 0


def _search_overrides(args: argparse.Namespace) -> dict:
    overrides = {"method": args.method, "order": args.order, "seed": args.seed, "device": args.device}
    for name in ("lam", "epochs", "batch_size", "data_root", "num_threads"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.dataset:
        overrides["dataset"] = args.dataset
    return overrides


def cmd_search(args: argparse.Namespace) -> int:
    from .loops.search import run_search

    seeds = args.seeds if args.seeds else [args.seed]
    configs = [search_config(args.preset, **{**_search_overrides(args), "seed": seed}) for seed in seeds]
    for config in configs:
        out = Path(args.out) if args.out and len(configs) == 1 else Path(args.out or "runs/search") / (
            f"{config.method}" + (f"_lam{config.lam:g}" if config.method in ("milenas", "milenas_gumbel", "switch")
                                  else "") + f"_{args.preset}_seed{config.seed}")
        result = run_search(config, out, progress=not args.quiet)
        print(f"record: {out / 'record.json'}")
        print(f"genotype: {result.genotype}")
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
    print(f"record: {Path(args.out) / 'record.json'}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


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
    search.add_argument("--order", default="simultaneous", choices=ORDERS)
    search.add_argument("--preset", default="smoke", choices=tuple(SEARCH_PRESETS))
    search.add_argument("--epochs", type=_positive_int)
    search.add_argument("--batch-size", type=_positive_int)
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--seeds", type=int, nargs="+", help="several seeds, one run directory each")
    search.add_argument("--device", default="auto", choices=DEVICES)
    search.add_argument("--dataset", choices=("cifar10", "synthetic"))
    search.add_argument("--data-root", help="folder with cifar-10-batches-py or the JPEG archive")
    search.add_argument("--num-threads", type=_positive_int)
    search.add_argument("--out", help="run directory (default runs/search/<method>_<preset>_seed<S>)")
    search.add_argument("--quiet", action="store_true", help="no progress bars")
    search.set_defaults(run=cmd_search)

    demo = commands.add_parser("demo", help="end-to-end pipeline: data, search, genotype and its size")
    demo.add_argument("--method", default="milenas", choices=METHODS)
    demo.add_argument("--preset", default="smoke", choices=tuple(SEARCH_PRESETS))
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ConfigError, GenotypeError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
