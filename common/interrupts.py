"""Ctrl-C and SIGTERM during training take effect between two steps, never inside one: a step
interrupted half-way could leave the image updated and Adam's moments not (PyTorch's Adam
updates its tensors one after another), and a checkpoint of that could not be resumed exactly.
A second signal stops at once, keeping the last image whose loss was finite."""
from __future__ import annotations

import signal
import threading
from typing import Any, Optional


class StopRequested(KeyboardInterrupt):
    """Raised at a step boundary after Ctrl-C or SIGTERM: the state there is whole."""


class StepBoundary:
    """While active, the first SIGINT or SIGTERM is noted and raised as StopRequested by
    ``check()``; a second one raises KeyboardInterrupt where the program is."""

    def __init__(self) -> None:
        self.requested: Optional[str] = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StepBoundary":
        # Python delivers signals to the main thread only (a worker thread's run keeps the defaults).
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._note) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _note(self, signum: int, frame: object) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def check(self) -> None:
        if self.requested is not None:
            raise StopRequested(self.requested)
