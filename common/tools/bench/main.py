"""``bench.py``: four measurements, one subcommand each (``speed`` when none is named):

    speed    seconds per step, GFLOP/s and peak memory per backend and size, the chapter's
             configuration beside the project's
    quality  time to quality: each method raced against the chapter's picture loss
    memory   peak memory of run.py at a few sizes, printed as the memory check's table
    batch    pictures per minute: run.py pair after pair against batch.py with 1, 2, 4 tasks

Speeds and times are only comparable inside one run on a quiet machine: report ratios.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from common.config import check_size

from common.execution import PRECISIONS
from common.conventions import CONVENTIONS
from common.errors import ConfigError, UserError
from common.layers import NETWORKS
from common.registry import backend_names, default_threads

from ..cli import preflight
from ..cli.exits import run_main
from ..cli.limits import named_backends
from ..cli.options import DEVICES
from ..cli.parsing import OneLineParser, real, whole

PROG = "bench.py"
COMMANDS = ("speed", "quality", "memory", "batch")
# The mode flags bench.py had before its subcommands: named in one line, never silently ignored.
OLD_FLAGS = {"--quality": "quality", "--memory": "memory", "--batch": "batch"}


def size_arg(text: str) -> tuple[int, int]:
    """A picture size typed ``HxW``, whose sides a run can have (the configuration's own rule)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 300x450") from None
    try:
        check_size((height, width))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None
    return height, width


size_arg.typed = lambda size: f"{size[0]}x{size[1]}"  # how --help shows a default


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Benchmark the style-transfer backends (speed when no command is named).")
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--backends", default=",".join(backend_names()), help="comma-separated backend names")
    shared.add_argument("--json", metavar="FILE", help="write every number here")
    commands = p.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    add = {name: commands.add_parser(name, parents=[shared], formatter_class=p.formatter_class, help=help_text)
           for name, help_text in (("speed", "seconds per step, GFLOP/s and peak memory"),
                                   ("quality", "time to the chapter's picture quality, method by method"),
                                   ("memory", "peak memory of run.py at a few sizes, as the memory check's table"),
                                   ("batch", "pictures per minute: run.py against batch.py"))}
    for parser in add.values():
        parser.error = p.error  # bad input in a subcommand: one line too

    s = add["speed"]
    s.add_argument("--sizes", nargs="+", type=size_arg, default=[(150, 225), (300, 450)], metavar="HxW",
                   help="heights x widths to time")
    s.add_argument("--steps", type=whole, default=5, help="timed steps (median reported)")
    s.add_argument("--warmup", type=whole, default=2, help="untimed steps first")
    s.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["fp32"],
                   help="precisions of the project's configuration to time")
    s.add_argument("--compile", action="store_true", help="PyTorch: also time torch.compile (compile time reported apart)")
    s.add_argument("--no-unoptimized", "--no-chapter", dest="no_unoptimized", action="store_true",
                   help="skip the unoptimized configuration, the way the chapter's code runs (--no-chapter: its "
                        "old spelling)")

    q = add["quality"]
    q.add_argument("--sizes", nargs="+", type=size_arg, default=[(300, 450)], metavar="HxW", help="sizes to race at")
    q.add_argument("--steps", type=whole, default=500, help="the chapter recipe's Adam steps, which set the bar")
    q.add_argument("--set", choices=("methods", "scales", "recipes"), default="methods",
                   help="race the methods; or --recipe fast with one coarse-to-fine choice changed at a time; or "
                        "recipes: each recipe as a user runs it, whole process, at its own defaults")
    q.add_argument("--cap", type=real, default=0.25,
                   help="stop a method that has not reached the chapter's picture loss by CAP x its time")
    q.add_argument("--weights", default="random",
                   help="random (seeded), imagenet, gluon, or a weights file (.npz, .pth, .params, .h5)")
    q.add_argument("--network", choices=tuple(NETWORKS), help="for random, imagenet and gluon (default: vgg19)")
    q.add_argument("--weights-convention", choices=tuple(CONVENTIONS), help="as run.py's")
    q.add_argument("--content", help="content photo (default: the chapter's rainier.jpg)")
    q.add_argument("--style", help="style painting (default: the chapter's autumn-oak.jpg)")

    add["memory"].add_argument("--sizes", nargs="+", type=size_arg, default=None, metavar="HxW",
                               help="two sizes or more, the smallest also run with --style-scale 4 "
                                    "(default: 200x300 300x450 600x900 800x1200)")
    b = add["batch"]
    b.add_argument("--pairs", type=whole, default=8, help="pairs per way of running them")
    b.add_argument("--size", type=size_arg, default=(150, 225), metavar="HxW", help="each picture's size")
    b.add_argument("--steps", type=whole, default=100, help="Adam steps per pair")
    b.add_argument("--content", help="content photo (default: the chapter's rainier.jpg)")
    b.add_argument("--style", help="style painting (default: the chapter's autumn-oak.jpg)")
    for parser in (s, q):
        parser.add_argument("--device", choices=DEVICES, default="auto",
                            help="auto: a GPU the framework can really use, else the CPU")
    return p


def with_command(argv: Sequence[str]) -> list[str]:
    """``speed`` where no command is named; a mode flag of old is refused by name."""
    argv = list(argv)
    for flag, command in OLD_FLAGS.items():
        if any(a == flag or a.startswith(flag + "=") for a in argv):
            raise UserError(f"{flag} is now a command: python scripts/bench.py {command} ...")
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv.insert(0, "speed")
    return argv


def run(args: argparse.Namespace) -> int:
    preflight.check_bench(args)  # every option and file, before a worker starts or an image downloads

    def warn(text: str) -> None:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    numbers = {"speed": _speed, "quality": _quality, "memory": _memory, "batch": _batch}[args.command](args, warn)
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=1))
    return 0


def _speed(args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    from . import speed

    numbers = speed.run_all(args, warn)
    print(speed.table(numbers["results"]))
    return numbers


def _quality(args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    from . import quality, recipes
    from .processes import in_processes

    if args.set == "recipes":
        results, skipped = in_processes("recipes", args, warn)
        print(recipes.table(results))
        return {"results": results, "skipped": skipped}
    numbers = quality.run_all(args, warn)
    print(quality.table(numbers["results"]))
    return numbers


def _batch(args: argparse.Namespace, warn: Callable[[str], None]) -> dict:

    from ..io.downloads import sample_image
    from . import throughput

    content, style = Path(args.content or sample_image("content")), Path(args.style or sample_image("style"))
    ray_seconds = throughput.ray_start_seconds(default_threads())
    rows = [row for name in named_backends(args.backends) for row in
            throughput.measure(name, args.size, args.steps, args.pairs, (1, 2, 4), content, style, warn)]
    print(throughput.table(rows, ray_seconds))
    return {"ray_start_seconds": ray_seconds, "rows": rows}


def _memory(args: argparse.Namespace, warn: Callable[[str], None]) -> list:
    from . import memory

    points = memory.measure(named_backends(args.backends), args.sizes or memory.SIZES, warn)
    print(memory.table_text(points))
    return points


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        argv = with_command(sys.argv[1:] if argv is None else argv)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return run_main(PROG, parser, run, argv)
