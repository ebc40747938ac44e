"""``run.py``: one picture from the command line. Every ending is one line on stderr: bad input
or out of memory exits 2, a loss that became NaN 3 (the last good image saved), Ctrl-C or
SIGTERM 130 (the last good image and checkpoint saved). --checkpoint keeps a long run
resumable with --resume."""
from __future__ import annotations

from typing import Optional, Sequence

from common.execution import PRECISIONS
from common.registry import backend_names

from .exits import run_main
from .options import add_transfer_options
from .parsing import OneLineParser, real, whole
from .preflight import DEFAULT_OUTPUT, NUMBERED_OUTPUT
from .recipes import RUN_RECIPES, with_recipe
from .stylize import stylize

PROG = "run.py"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Neural style transfer with MXNet or PyTorch behind one interface.")
    p.add_argument("--recipe", choices=tuple(RUN_RECIPES), default="chapter",
                   help="chapter: the d2l chapter's algorithm; fast: its picture quality in a fraction of the "
                        "time (coarse to fine, Adam kept inside [0, 1]); options given explicitly still win")
    p.add_argument("--backend", choices=backend_names(), default="torch", help="framework that runs the network")
    p.add_argument("--output", help="where the result is written (.png, .jpg, ...); replaced if it exists "
                                    f"(default: {DEFAULT_OUTPUT}, or the first free {NUMBERED_OUTPUT})")
    add_transfer_options(p)
    p.add_argument("--align-adam-epsilon", action="store_true",
                   help="make MXNet's Adam place epsilon as PyTorch's does, so both give the same losses")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: the VGG network under bf16 autocast (PyTorch), losses and Gram in fp32")
    p.add_argument("--compile", action="store_true",
                   help="PyTorch: torch.compile the feature network (slow first step; measured slower on this CPU)")
    p.add_argument("--log", metavar="FILE.jsonl", help="one JSON object per step")
    p.add_argument("--plot", metavar="FILE.png", help="save the loss curves")
    p.add_argument("--save-every", type=whole, default=0, metavar="N",
                   help="also save the image every N steps beside the output (0: never)")
    p.add_argument("--checkpoint", metavar="FILE.npz",
                   help="keep the run resumable: image, Adam's moments, position and configuration, written "
                        "atomically every --checkpoint-every steps and on Ctrl-C or SIGTERM")
    p.add_argument("--checkpoint-every", type=whole, default=50, metavar="N", help="steps between checkpoints")
    p.add_argument("--resume", metavar="FILE.npz",
                   help="continue the run a --checkpoint file holds (the same options, backend and version)")
    p.add_argument("--max-memory", type=real, metavar="GiB",
                   help="memory the run may use, instead of what the machine has free now (the check before "
                        "the work refuses a run estimated to need more)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, with_recipe(build_parser(), argv), lambda args: stylize(args, PROG), argv)
