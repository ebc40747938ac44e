"""The checks a run makes before any real work: everything that can be known from the command
line, the files named and the environment is checked before an image is decoded, a framework
imported or a weight downloaded, so a mistake costs a second, not a download or a run."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import UserError
from ..images import check_image_path, check_writable
from ..interface import StyleBackend
from ..weights import check_spec


def _whole_at_least(flag: str, value: int, low: int, meaning: str = "") -> None:
    if value < low:
        raise UserError(f"{flag} must be a whole number >= {low}{meaning}, not {value}")


def check_plot_path(path: str) -> Path:
    """A file matplotlib can write (it writes .pdf and .svg, which Pillow cannot, and not .bmp)."""
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if target.suffix.lower().lstrip(".") not in formats and not target.is_dir():
        raise UserError(f"--plot {target}: matplotlib cannot write {target.suffix or 'a file without an extension'}; "
                        f"use one of .{', .'.join(sorted(formats))}")
    return check_writable(target)


def check_run(args: argparse.Namespace) -> None:
    """run.py's options, files and paths; raises UserError (one line) on the first problem."""
    _whole_at_least("--save-every", args.save_every, 0, " (0: never)")
    _whole_at_least("--checkpoint-every", args.checkpoint_every, 1)
    if args.max_memory is not None and not (math.isfinite(args.max_memory) and args.max_memory > 0):
        raise UserError(f"--max-memory must be a positive number of GiB, not {args.max_memory}")
    check_image_path(args.output)
    if args.plot:
        check_plot_path(args.plot)
    if args.log:
        check_writable(args.log)
    if args.checkpoint:
        check_writable(args.checkpoint)
    check_spec(args.weights)


def check_backend(args: argparse.Namespace, backend_class: type[StyleBackend], prog: str = "run.py") -> None:
    """What the chosen backend can do, asked of its class before it is built (and before any
    weights are downloaded); options that would change nothing are warned about."""
    name = backend_class.name
    if args.precision not in backend_class.precisions:
        raise UserError(f"--precision {args.precision}: the {name} backend runs {', '.join(backend_class.precisions)} "
                        f"only (see the README's Speed section)")
    if args.compile and not backend_class.compiles:
        raise UserError(f"--compile: the {name} backend has no compile step (its blocks are hybridized already)")
    if args.device == "gpu":
        status = backend_class.gpu_status()
        if not status.usable:
            raise UserError(f"--device gpu: {backend_class.framework} cannot use a GPU here: {status.detail}")
    if args.seed != 0 and args.weights != "random" and getattr(args, "init", "content") != "noise":
        print(f"{prog}: warning: --seed {args.seed} changes nothing: it seeds only --weights random and --init noise",
              file=sys.stderr)
    if getattr(args, "align_adam_epsilon", False) and backend_class.adam_epsilon == "corrected":
        print(f"{prog}: warning: --align-adam-epsilon changes nothing on {name}: its Adam already adds epsilon "
              f"as the aligned form does", file=sys.stderr)
