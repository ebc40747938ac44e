"""``compare.py``: run MXNet and PyTorch on identical inputs and write a report of every
difference (report.md, a self-contained report.html, numbers.json)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..cli.exits import run_main
from ..cli.options import add_transfer_options
from ..cli.parsing import OneLineParser, real, whole
from .report import write_report

PROG = "compare.py"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Compare the MXNet and PyTorch backends stage by stage.")
    p.add_argument("--tabs", action="store_true",
                   help="each backend as its tab of the chapter is written, and why the two differ (an ablation); "
                        "without it both compute the project's same thing")
    p.add_argument("--recipe", choices=("project", "d2l"), default="project",
                   help="the old spelling: --recipe d2l is --tabs")
    p.add_argument("--report", default="comparison", help="folder the report is written to")
    add_transfer_options(p, size=(150, 225), steps=100)
    p.add_argument("--timing-steps", type=whole, default=5, help="synchronised steps timed per backend")
    p.add_argument("--max-memory", type=real, metavar="GiB",
                   help="memory each backend's run may use, instead of what the machine has free now (as run.py's)")
    return p


def run(args: argparse.Namespace) -> int:
    args.tabs = args.tabs or args.recipe == "d2l"
    written = write_report(args, say=lambda text: print(f"{PROG}: {text}", file=sys.stderr, flush=True))
    print(f"wrote {written['html']} (also {written['markdown'].name}, {written['json'].name})")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, build_parser(), run, argv)
