"""The command line's grammar: every subcommand of ``python -m milenas_lib`` and its flags.

What each command does lives in :mod:`milenas_lib.cli` (and, for ``reproduce``, in
:mod:`milenas_lib.reproduce`); this module only says what they accept, and both import
it, so ``python -m milenas_lib.reproduce`` builds the very flags of
``python -m milenas_lib reproduce`` without an import cycle.  Shared here, once:

* :func:`key_value`, the one reader of every ``KEY=VALUE`` flag (``--set``, ``--param``);
* :func:`positive_int` for counts;
* :class:`HelpFormatter`: ``--help`` shows each flag's default beside its one-line help;
* :class:`UsageError` and :func:`error_families`: the errors that end a command with one
  line (bad input: status 2; a run that had to stop: status 1) instead of a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Optional

from .config import METHODS, TRAIN_DATASETS
from .executor.runs import BACKENDS
from .names import DEVICES, ORDERS
from .presets import PRESETS

PROG = "python -m milenas_lib"
DESCRIPTION = "The MiLeNAS reproduction kit, one subcommand per job; COMMAND --help lists its flags and their defaults."

#: --download's help, shared by every command that has the flag.
DOWNLOAD_HELP = ("first fetch the official CIFAR-10 (md5-checked, by torchvision; needs internet) into --data-root, "
                 "or ~/.cache/milenas-kit/cifar10 (MILENAS_CACHE_DIR) without one; a complete copy is kept")
#: Where a run reads CIFAR-10 when no folder is given (data/cifar10.py searches these).
DATA_ROOT_DEFAULT = "(default: MILENAS_DATA_ROOT, else the kit's usual places)"


class UsageError(Exception):
    """Bad input found before any work: printed as one line, exit status 2."""


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``: the one reader of every such flag (``--set``, ``--param``).

    KEY names a config setting or a notebook parameter, both Python names, so ``-`` in it
    is read as ``_`` (``batch-size=8`` is ``batch_size``, as the flags spell it) and
    surrounding blanks are dropped.  VALUE is read as JSON when it parses (``3``, ``0.1``,
    ``true``, ``null``, ``[0,1]``, ``{"epochs": 1}``), else kept as the text given.
    """
    key, separator, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not separator or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a name such as epochs or data_root, "
                                         f"got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def positive_int(text: str) -> int:
    """A count of at least 1 (epochs, steps, threads, workers)."""
    try:
        value = int(text)
    except ValueError:
        value = 0  # not a number: refused as 0 is
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with every flag's default: a help text that says ``default: ...`` itself keeps
    its words (a default decided later, such as "the preset's", reads better than None), a
    required flag says so, an on/off flag shows "off", any other gets ``(default: VALUE)``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default is argparse.SUPPRESS or "default: " in text:
            return text
        if action.required:
            return f"{text} (required)"
        if action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        return super()._get_help_string(action)


def error_families() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Errors that carry a message meant for the user: bad input (status 2) and
    runs that had to stop (status 1).  Anything else keeps its traceback.
    Imported here, not at the top: ``--help`` needs none of them."""
    from .config import ConfigError
    from .data import ArchiveError, CacheDirError, DataNotFoundError, DataSizeError
    from .data.image_tree import ImageTreeError
    from .loops.tensorboard import TensorBoardUnavailable
    from .records.guard import DiskSpaceError, RunLockedError
    from .records.provenance import DeviceUnavailableError
    from .records.run_dir import CheckpointMismatchError, CorruptRunError, GPUOutOfMemoryError, OutDirError
    from .space.genotype import GenotypeError

    bad_input = (ConfigError, GenotypeError, UsageError, DataNotFoundError, ArchiveError, CheckpointMismatchError,
                 RunLockedError, DeviceUnavailableError, CorruptRunError, OutDirError, DataSizeError, CacheDirError,
                 ImageTreeError, TensorBoardUnavailable)
    return bad_input, (DiskSpaceError, FloatingPointError, GPUOutOfMemoryError)


# ---------------------------------------------------------------------------
# One function per subcommand.

def _command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows every flag's default."""
    return commands.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)


def _add_info(commands: Any) -> None:
    info = _command(commands, "info", "conv counts, params and mult-adds of a genotype")
    info.add_argument("genotype", help="a registered name (e.g. DARTS_V2) or a genotype JSON file")
    info.add_argument("--json", action="store_true", help="print one JSON object")


def _add_search(commands: Any) -> None:
    search = _command(commands, "search", "run or resume an architecture search")
    search.add_argument("--method", required=True, choices=METHODS, metavar="METHOD",
                        help="one of: " + ", ".join(METHODS))
    search.add_argument("--lambda", dest="lam", type=float, help="λ of Eq. 5 (default: 1)")
    search.add_argument("--order", default=ORDERS[0], choices=ORDERS,
                        help="MiLeNAS' step: simultaneous (2 passes), the authors' alpha_then_w (3) or "
                             "Algorithm 1's w_then_alpha (3)")
    search.add_argument("--preset", default="smoke", choices=tuple(PRESETS),
                        help="supernet, data and epochs: CPU minutes (smoke) up to the paper's protocol (paper)")
    search.add_argument("--epochs", type=positive_int, help="search epochs (default: the preset's)")
    search.add_argument("--batch-size", type=positive_int, help="batch size (default: the preset's)")
    search.add_argument("--seed", type=int, default=0, help="the run's seed")
    search.add_argument("--seeds", type=int, nargs="+", help="several seeds, one run directory each (default: --seed)")
    search.add_argument("--device", default="auto", choices=DEVICES, help="where to run (auto: CUDA when present)")
    search.add_argument("--data", "--dataset", dest="data", metavar="DATA",
                        help="cifar10, synthetic, or imagefolder:PATH[@RES]: your own images in PATH/<class>/<image>, "
                        "resized to RESxRES (RES 32 unless given) (default: cifar10)")
    search.add_argument("--data-root", help=f"folder with cifar-10-batches-py or the JPEG archive {DATA_ROOT_DEFAULT}")
    search.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
    search.add_argument("--num-threads", type=positive_int, help="CPU threads (default: the preset's, else torch's)")
    search.add_argument("--set", type=key_value, action="append", metavar="KEY=VALUE",
                        help="any other SearchConfig setting, VALUE as JSON, e.g. --set C=8 --set per_class=null "
                        "(repeatable; default: none)")
    search.add_argument("--out", help="run directory (default: runs/search/<method>_<preset>_seed<S>)")
    search.add_argument("--store", nargs="?", const="", metavar="OUTPUT_ROOT",
                        help="write the run into the notebooks' run store (OUTPUT_ROOT/results/runs/<preset>/...; "
                        "OUTPUT_ROOT: this checkout's when not given), where a notebook of the same preset and "
                        "settings reads it instead of training it (default: off)")
    search.add_argument("--tensorboard", metavar="DIR",
                        help="also write each run's per-epoch curves, τ, step times and α heatmaps as TensorBoard "
                        "events under DIR (record.json stays the source; needs the tensorboard extra) (default: off)")
    search.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_train(commands: Any) -> None:
    train = _command(commands, "train", "train a genotype from scratch (CIFAR-10, or ImageNet from an ImageFolder "
                     "tree); under torchrun --nproc-per-node N, on N devices")
    train.add_argument("--genotype", required=True, help="a registered name (e.g. DARTS_V2), genotype JSON, or a "
                       "search record.json")
    train.add_argument("--dataset", default="cifar10", choices=TRAIN_DATASETS, help="what to train on")
    train.add_argument("--preset", default="smoke", choices=tuple(PRESETS),
                       help="network, data and epochs: CPU minutes (smoke) up to the paper's protocol (paper); a "
                       "search-only preset defines no trainings")
    train.add_argument("--data-root", help="cifar10: folder with cifar-10-batches-py or the JPEG archive; "
                       "imagenet: ImageFolder tree with train/ and val/, which it needs "
                       "(default: for cifar10, MILENAS_DATA_ROOT, else the kit's usual places)")
    train.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
    train.add_argument("--seed", type=int, default=0, help="the run's seed")
    train.add_argument("--epochs", type=positive_int, help="training epochs (default: the preset's)")
    train.add_argument("--batch-size", type=positive_int,
                       help="global batch, over all processes (default: the preset's)")
    train.add_argument("--device", default="auto", choices=DEVICES, help="where to run (auto: CUDA when present)")
    train.add_argument("--num-threads", type=positive_int, help="CPU threads (default: the preset's, else torch's)")
    train.add_argument("--workers", type=int, help="DataLoader processes per training process (imagenet) "
                       "(default: the preset's)")
    train.add_argument("--auxiliary", action=argparse.BooleanOptionalAction,
                       help="auxiliary head (weight 0.4) (default: the preset's)")
    for flag, what in (("bf16", "bf16 autocast"), ("channels-last", "channels_last memory format"),
                       ("compile", "torch.compile")):
        train.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, help=f"{what} (CUDA only; default: off)")
    train.add_argument("--set", type=key_value, action="append", metavar="KEY=VALUE",
                       help="any other TrainConfig setting, VALUE as JSON (3, 0.1, true, null), e.g. --set C=16 "
                       "--set train_per_class=null (repeatable; default: none)")
    train.add_argument("--out", help="run directory (default: runs/train/<genotype>_<dataset>_<preset>_seed<S>); "
                       "a directory with a checkpoint resumes")
    train.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_bench(commands: Any) -> None:
    bench = _command(commands, "bench", "search-step speed of every method against darts_2nd, one run")
    bench.add_argument("--device", default="cpu", choices=DEVICES, help="where to time")
    bench.add_argument("--size", default="paper", choices=tuple(PRESETS),
                       help="time the supernet of this search preset")
    bench.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                       help="the methods to time (default: all)")
    bench.add_argument("--steps", type=positive_int, default=3, help="timed steps per method")
    bench.add_argument("--num-threads", type=positive_int, help="CPU threads (default: 1 on the CPU)")
    bench.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                       help="time the supernet in the contiguous memory format (default: channels_last)")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")


def _add_plan(commands: Any) -> None:
    plan = _command(commands, "plan", "the runs the notebooks need, which are stored, and the cost of the rest")
    plan.add_argument("--preset", default="smoke", choices=tuple(PRESETS), help="the notebooks' preset")
    plan.add_argument("--notebooks", nargs="+", metavar="NN", help="only these notebooks, e.g. 02 03 (default: all)")
    plan.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the preset's)")
    plan.add_argument("--param", type=key_value, action="append", metavar="KEY=VALUE",
                      help="a notebook parameter, as reproduce --param passes it (VALUE as JSON; repeatable) "
                      "(default: each notebook's own)")
    plan.add_argument("--output-root", help="the folder holding results/ (default: this checkout)")
    plan.add_argument("--device", default="auto", choices=DEVICES, help="cost in CPU-hours or GPU-hours "
                      "(auto: a GPU if this machine has one)")
    plan.add_argument("--workers", type=positive_int, help="wall clock with this many runs at a time "
                      "(default: every core, or --per-gpu runs per GPU)")
    plan.add_argument("--per-gpu", type=positive_int, help="wall clock with this many runs per GPU (default: 4)")
    plan.add_argument("--gpus", type=positive_int, default=1, help="GPUs for the wall clock")


def _add_verify(commands: Any) -> None:
    verify = _command(commands, "verify", "check a record's consistency, rerun its config and seed from scratch and "
                      "compare: exactly on its float path, by fingerprint and spread on another")
    verify.add_argument("record", help="a run's record.json or its folder")
    verify.add_argument("--epochs", type=positive_int, help="rerun only the first K epochs (default: all)")
    verify.add_argument("--device", default="cpu", choices=DEVICES, help="where to rerun")
    verify.add_argument("--data-root", help="where the data the record names is (default: the kit's usual search)")


def _add_demo(commands: Any) -> None:
    demo = _command(commands, "demo", "end-to-end pipeline: data, search, genotype and its size")
    demo.add_argument("--method", default="milenas", choices=METHODS, help="the search method")
    demo.add_argument("--preset", default="smoke", choices=tuple(PRESETS), help="the search preset")
    demo.add_argument("--out", default="runs/demo", help="run directory")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")


def _env_workers() -> Optional[int]:
    """``WORKERS=N make reproduce``: the Makefile passes the variable through the environment."""
    value = os.environ.get("WORKERS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``reproduce``'s flags, on the front door's subcommand and on its alias ``python -m milenas_lib.reproduce``."""
    parser.add_argument("--preset", default="smoke", choices=tuple(PRESETS), help="the notebooks' preset")
    parser.add_argument("--only", nargs="+", metavar="NN",
                        help="run only notebooks whose name starts so, e.g. 02 03 (default: all)")
    parser.add_argument("--param", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                        help="a notebook parameter for every notebook that declares it (VALUE as JSON; repeatable) "
                        "(default: each notebook's own)")
    parser.add_argument("--output-root", type=Path, help="write results/ and figures/ under this folder "
                        "(default: this checkout)")
    parser.add_argument("--notebooks", type=Path, help="folder of the notebooks (default: this checkout's notebooks/)")
    parser.add_argument("--kernel", help="Jupyter kernel name (default: the notebooks' own, python3)")
    parser.add_argument("--workers", type=int, default=_env_workers(),
                        help="runs at a time before the notebooks execute (default: WORKERS=N, else all cores, or 4 "
                        "per GPU; 1: one after another)")
    parser.add_argument("--backend", default="local", choices=BACKENDS, help="local processes, or Ray tasks")
    parser.add_argument("--address", help="Ray cluster to join (backend ray), e.g. auto (default: a local instance)")
    parser.add_argument("--per-gpu", type=int, help="runs side by side on one GPU (default: 4)")
    parser.add_argument("--download", action="store_true", help="first fetch the official CIFAR-10 (md5-checked, by "
                        "torchvision; needs internet) into --param data_root=DIR, MILENAS_DATA_ROOT, or "
                        "~/.cache/milenas-kit/cifar10; a complete copy is kept (also DOWNLOAD=1)")
    return parser


REPRODUCE_SUMMARY = "every figure and table: the notebooks' missing runs, then the notebooks"


def _add_reproduce(commands: Any) -> None:
    add_reproduce_arguments(_command(commands, "reproduce", REPRODUCE_SUMMARY))


def reproduce_parser(prog: str) -> argparse.ArgumentParser:
    """``reproduce`` as a program of its own (``python -m milenas_lib.reproduce``, the alias)."""
    return add_reproduce_arguments(argparse.ArgumentParser(prog=prog, description=REPRODUCE_SUMMARY,
                                                           formatter_class=HelpFormatter))


SUBCOMMANDS = (_add_info, _add_search, _add_train, _add_bench, _add_plan, _add_verify, _add_demo, _add_reproduce)


def build_parser() -> argparse.ArgumentParser:
    """The front door: one subcommand each, its name in ``args.command``."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(commands)
    return parser
