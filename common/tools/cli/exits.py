"""What a script's exit status means, and the wrapper that makes every ending one line:
bad input and out-of-memory are status 2, a loss or image that became NaN 3, Ctrl-C or
SIGTERM 130. Only a bug in this code (status 1) still prints Python's traceback."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from common.errors import UserError, one_line, shown
from common.run import Kind

from .options import in_flags
from .signals import Stop

DONE = 0
BUG = 1  # Python's own status for an uncaught exception: a traceback to report
BAD_INPUT = 2  # also out of memory and an unwritable result: the command must change
DIVERGED = 3  # the loss or the image became NaN or infinite; the last good image is saved
INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C; SIGTERM ends the same way

# How a run ended, as an exit status (batch's manifest writes the kind's own word instead).
EXIT_STATUS = {Kind.FINISHED: DONE, Kind.INTERRUPTED: INTERRUPTED, Kind.NOT_FINITE: DIVERGED,
               Kind.OUT_OF_MEMORY: BAD_INPUT}

STATUSES = {DONE: "done", BUG: "a bug (traceback printed)", BAD_INPUT: "bad input, out of memory or unwritable output",
            DIVERGED: "the loss or image became NaN or infinite", INTERRUPTED: "interrupted (Ctrl-C or SIGTERM)"}


def run_main(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
             argv: Optional[Sequence[str]] = None) -> int:
    """Parse, run, and turn every way a run can end, except a bug, into one line on stderr."""
    args = parser.parse_args(argv)
    try:
        with Stop():  # SIGTERM ends the program as Ctrl-C does; run.py defers both while it trains
            return body(args)
    except UserError as exc:
        print(f"{prog}: error: {shown(in_flags(exc))}", file=sys.stderr)  # a path may hold a newline
        return BAD_INPUT
    except KeyboardInterrupt:  # before any image was made (a run keeps its image once it has one)
        print(f"{prog}: interrupted before any image was made; nothing written", file=sys.stderr)
        return INTERRUPTED
    except MemoryError as exc:  # a backend says its framework's allocation failures as OutOfMemory
        print(f"{prog}: error: out of memory ({shown(one_line(exc))}); nothing written: try a smaller --size",
              file=sys.stderr)
        return BAD_INPUT
