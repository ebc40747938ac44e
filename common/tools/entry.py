"""Every script's first instruction: from here until the program installs its own handling,
Ctrl-C and SIGTERM end it in one line with exit status 130, never a traceback or a silent −15.

Python's own SIGINT handler raises KeyboardInterrupt anywhere, an import included; SIGTERM's
default ends the process with no word. Both are made to raise here, before the heavy imports,
and a KeyboardInterrupt that escapes the program is said in one line. Works on the main thread
only, as Python's signal handlers do.

A handler may run inside a weakref callback or a ``__del__`` (the import system has both), where
Python prints the KeyboardInterrupt as "Exception ignored" and goes on. So the signal is also
noted: the program's own handling raises it again when it takes over (``cli/signals.py``), and a
program that returns in spite of it still ends as interrupted."""
from __future__ import annotations

import importlib
import signal
import sys
import time
from typing import Callable, NoReturn

INTERRUPTED = 130  # as common/tools/cli/exits.py: 128 + SIGINT
STARTED = time.perf_counter()  # the script's first instruction: where start-up is timed from

_signalled = False


def _raise(signum: int, frame: object) -> NoReturn:
    global _signalled
    _signalled = True
    raise KeyboardInterrupt


def signalled() -> bool:
    """Whether a signal arrived while guarded, even one whose KeyboardInterrupt Python swallowed."""
    return _signalled


def _interrupted(prog: str) -> int:
    print(f"{prog}: interrupted before any image was made; nothing written", file=sys.stderr)
    return INTERRUPTED


def guard() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt from now on (until the program sets its own);
    one ignored when the program started stays ignored, as Python leaves it (``nohup``, ``cmd &``)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise)


def start(prog: str, module: str) -> int:
    """Import ``module`` and run its ``main()`` with signals guarded the whole way."""
    guard()
    try:
        main: Callable[[], int] = importlib.import_module(module).main
        status = main()
    except KeyboardInterrupt:
        return _interrupted(prog)
    except SystemExit:  # argparse's --help and usage errors
        if _signalled:
            return _interrupted(prog)
        raise
    if _signalled and status != INTERRUPTED:  # swallowed before the program took over
        return _interrupted(prog)
    # Everything is written: a signal during the interpreter's own exit would only turn the status
    # it reports into a death by the signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    return status


def run() -> int:
    return start("style-transfer", "common.tools.cli.main")


def batch() -> int:
    return start("style-transfer-batch", "common.tools.batch.main")


def compare() -> int:
    return start("style-transfer-compare", "common.tools.compare.main")


def bench() -> int:
    return start("style-transfer-bench", "common.tools.bench.main")


def web() -> int:
    return start("style-transfer-web", "common.tools.web.main")
