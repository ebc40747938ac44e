"""The checks a run makes before any real work: everything that can be known from the command
line, the files named and the environment is checked before an image is decoded, a framework
imported or a weight downloaded, so a mistake costs a second, not a download or a run."""
from __future__ import annotations

import argparse

from ..errors import UserError
from ..images import check_image_path, check_writable
from ..interface import StyleBackend
from ..weights import check_spec


def check_run(args: argparse.Namespace) -> None:
    """run.py's options, files and paths; raises UserError (one line) on the first problem."""
    if args.save_every < 0:
        raise UserError(f"--save-every must be 0 (never) or a positive whole number, not {args.save_every}")
    check_image_path(args.output)
    if args.plot:
        check_image_path(args.plot)
    if args.log:
        check_writable(args.log)
    check_spec(args.weights)


def check_backend(args: argparse.Namespace, backend_class: type[StyleBackend]) -> None:
    """What the chosen backend can do, asked of its class before it is built (and before any
    weights are downloaded)."""
