#!/usr/bin/env python
"""Run MXNet and PyTorch on identical inputs and write a report of every difference:

    python scripts/compare.py                    # the project's recipe, identical in both
    python scripts/compare.py --recipe d2l       # each backend as its chapter tab writes it, plus ablation

The report folder holds report.md, report.html (one self-contained file) and numbers.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a clone without installing the package
    sys.path.insert(0, str(ROOT))

from common.tools.cli import OneLineParser, add_transfer_options, real, whole  # noqa: E402
from common.tools.exits import run_main  # noqa: E402
from common.tools.compare_report import write_report  # noqa: E402

PROG = "compare.py"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Compare the MXNet and PyTorch backends stage by stage.")
    p.add_argument("--recipe", choices=("project", "d2l"), default="project",
                   help="project: both backends compute the same thing; d2l: each as its chapter tab does")
    p.add_argument("--report", default="comparison", help="folder the report is written to")
    add_transfer_options(p, size=(150, 225), steps=100)
    p.add_argument("--timing-steps", type=whole, default=5, help="synchronised steps timed per backend")
    p.add_argument("--max-memory", type=real, metavar="GiB",
                   help="memory each backend's run may use, instead of what the machine has free now (as run.py's)")
    return p


def run(args: argparse.Namespace) -> int:
    written = write_report(args, say=lambda text: print(f"{PROG}: {text}", file=sys.stderr, flush=True))
    print(f"wrote {written['html']} (also {written['markdown'].name}, {written['json'].name})")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
