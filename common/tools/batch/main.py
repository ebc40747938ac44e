"""``batch.py``: stylise a whole collection, every content x style pair, on this machine or a
Ray cluster. Every option of run.py applies to each pair. OUT/manifest.jsonl records each pair as
it ends; the same command again does only the pairs not yet done. Exit status: 0 every pair
done, 1 some failed (the manifest says why), 2 bad input, 130 interrupted (finished pairs kept)."""
from __future__ import annotations

from typing import Optional, Sequence

from common.execution import PRECISIONS
from common.registry import backend_names

from ..cli.exits import run_main
from ..cli.options import add_transfer_options
from ..cli.parsing import OneLineParser
from ..cli.recipes import RUN_RECIPES, with_recipe
from .driver import run_batch
from .plan import add_batch_options

PROG = "batch.py"


def build_parser() -> OneLineParser:
    # "resolve": --content and --style take files or folders here, replacing run.py's meaning
    p = OneLineParser(prog=PROG, description="Neural style transfer for many content x style pairs, with Ray.",
                      conflict_handler="resolve")
    p.add_argument("--recipe", choices=tuple(RUN_RECIPES), default="chapter",
                   help="as run.py's: chapter, or fast (the same quality sooner); explicit options still win")
    p.add_argument("--backend", choices=backend_names(), default="torch", help="framework that runs the network")
    add_transfer_options(p)
    add_batch_options(p)
    p.add_argument("--align-adam-epsilon", action="store_true",
                   help="make MXNet's Adam place epsilon as PyTorch's does")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="as run.py's")
    p.add_argument("--compile", action="store_true", help="PyTorch: torch.compile the feature network")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, with_recipe(build_parser(), argv), lambda args: run_batch(args, PROG), argv)
