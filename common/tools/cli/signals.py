"""Ctrl-C and SIGTERM, the command line's one piece of signal handling.

Before the first step there is nothing to keep: a signal stops the program at once
(KeyboardInterrupt). From the first step on, the first signal asks the run to stop at the next
step boundary (the command line's ``Run.stop_reason`` reads it), where the image and Adam's moments belong
together and a checkpoint of them can be resumed exactly; a second one stops at once. The core
never touches signals, so a program that embeds it (a Ray worker) keeps its own handlers."""
from __future__ import annotations

import signal
import threading
from typing import Any, Optional

from common.tools import entry

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """While active (``with Stop() as stop:``), SIGINT and SIGTERM raise KeyboardInterrupt until
    ``defer()`` is called; after it, the first one is only noted (``requested``) and a second
    raises. Python runs handlers on the main thread only: elsewhere this does nothing."""

    def __init__(self) -> None:
        self.requested: Optional[str] = None
        self.deferring = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "Stop":
        if entry.signalled():  # a signal during the imports whose KeyboardInterrupt Python swallowed
            raise KeyboardInterrupt
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def defer(self) -> None:
        """From now on the first signal waits for the next step boundary."""
        if not self.deferring and self.requested is not None:  # its KeyboardInterrupt was swallowed
            raise KeyboardInterrupt  # (in a weakref callback or a __del__) before the run began deferring
        self.deferring = True

    def _handle(self, signum: int, frame: object) -> None:
        raise_now = not self.deferring or self.requested is not None
        self.requested = self.requested or signal.Signals(signum).name
        if raise_now:
            raise KeyboardInterrupt
