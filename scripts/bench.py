#!/usr/bin/env python
"""Seconds per style-transfer step for each backend, device and size, synchronised:

    python scripts/bench.py                          # every backend, 150x225 and 300x450
    python scripts/bench.py --backends torch --sizes 300x450 --steps 10 --json bench.json
    python scripts/bench.py --memory                 # re-measure and re-fit common/memory.py

Each (backend, size) runs in its own process, so that peak memory is its own and one
framework's thread settings cannot slow the other (they share the OpenMP runtime). Prints a
table and, with --json, writes every number. Achieved GFLOP/s count only the necessary work
(common/tools/flops.py prints its formula). Within each process the chapter's configuration (trainable
weights, plain layer loop, no framework speed-ups) runs first, then the project's, so the
speed-up is a ratio measured side by side.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a clone without installing the package
    sys.path.insert(0, str(ROOT))

from common.config import MIN_SIDE  # noqa: E402
from common.registry import available, backend_names  # noqa: E402
from common.tools import bench  # noqa: E402
from common.tools import preflight  # noqa: E402
from common.tools.cli import OneLineParser, whole  # noqa: E402
from common.tools.exits import run_main  # noqa: E402

PROG = "bench.py"


def size_arg(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 300x450") from None
    if min(height, width) < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{text}: both sides must be at least {MIN_SIDE}")
    return height, width


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Benchmark the style-transfer step of each backend.")
    p.add_argument("--backends", default=",".join(backend_names()), help="comma-separated backend names")
    p.add_argument("--sizes", nargs="+", type=size_arg, default=[(150, 225), (300, 450)], metavar="HxW",
                   help="heights x widths to time (default: 150x225 300x450)")
    p.add_argument("--steps", type=whole, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=whole, default=2, help="untimed steps first")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto: a GPU the framework can really use, else the CPU")
    p.add_argument("--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32"],
                   help="precisions of the project's configuration to time")
    p.add_argument("--compile", action="store_true", help="PyTorch: also time torch.compile (compile time reported apart)")
    p.add_argument("--no-chapter", action="store_true", help="skip the chapter configuration")
    p.add_argument("--quality", action="store_true",
                   help="time to quality instead: each method against the chapter's recipe (see README)")
    p.add_argument("--quality-steps", type=whole, default=500, help="--quality: the chapter recipe's Adam steps")
    p.add_argument("--quality-set", choices=("methods", "scales"), default="methods",
                   help="--quality: race the methods, or --recipe fast with one coarse-to-fine choice changed at a time")
    p.add_argument("--cap", type=float, default=0.25,
                   help="--quality: stop a method that has not reached the chapter's picture loss by CAP x its time")
    p.add_argument("--content", help="--quality: content photo (default: the chapter's rainier.jpg)")
    p.add_argument("--style", help="--quality: style painting (default: the chapter's autumn-oak.jpg)")
    p.add_argument("--batch", type=whole, metavar="PAIRS",
                   help="throughput instead: PAIRS pairs with run.py one after another, then batch.py with 1, 2 "
                        "and 4 concurrent tasks (--sizes' first size, --batch-steps steps, --content/--style)")
    p.add_argument("--batch-steps", type=whole, default=100, help="--batch: Adam steps per pair")
    p.add_argument("--memory", action="store_true",
                   help="the memory check's model instead: peak memory of run.py at several sizes per backend, "
                        "optimizer and precision, and the fitted coefficients common/memory.py keeps")
    p.add_argument("--json", metavar="FILE", help="write every number here")
    p.add_argument("--worker", nargs=2, metavar=("BACKEND", "HxW"), help=argparse.SUPPRESS)
    return p


def run(args: argparse.Namespace) -> int:
    preflight.check_bench(args)  # every option and file, before a worker starts or an image downloads
    def warn(text: str) -> None:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    if args.worker:
        work = bench.quality_worker if args.quality else bench.worker
        print(json.dumps(work(args.worker[0], size_arg(args.worker[1]), args, warn)))
        return 0
    if args.batch:
        return _batch(args, warn)
    if args.memory:
        return _memory(args, warn)
    numbers = bench.run_all(args, Path(__file__), warn)
    print(bench.quality_table(numbers["results"]) if args.quality else bench.table(numbers["results"]))
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=1))
    return 0


def _batch(args: argparse.Namespace, warn) -> int:
    from common.samples import sample_image
    from common.system import available_cores
    from common.tools import bench_batch

    content, style = Path(args.content or sample_image("content")), Path(args.style or sample_image("style"))
    ray_seconds = bench_batch.ray_start_seconds(available_cores())
    rows = [row for name in args.backends.split(",") for row in
            bench_batch.measure(name, args.sizes[0], args.batch_steps, args.batch, (1, 2, 4), content, style, warn)]
    print(bench_batch.table(rows, ray_seconds))
    if args.json:
        Path(args.json).write_text(json.dumps({"ray_start_seconds": ray_seconds, "rows": rows}, indent=1))
    return 0


def _memory(args: argparse.Namespace, warn) -> int:
    from dataclasses import asdict

    from common.tools import memory_fit

    names = []
    for name in filter(None, (n.strip() for n in args.backends.split(","))):
        ok, reason = available(name)
        if ok:
            names.append(name)
        else:
            warn(f"skipping {name}: {reason}")
    measured = memory_fit.measure_all(
        names, report=lambda m: warn(f"{m.backend} {m.optimizer} {m.precision} {m.size[0]}x{m.size[1]} "
                                     f"style x{m.style_scale:g}: peak {m.peak_gib:.3f} GiB"))
    training, targets = memory_fit.fit_all(measured)
    print(memory_fit.residuals_text(measured, training, targets))
    print(memory_fit.coefficients_text(training, targets))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(m) for m in measured], indent=1))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
