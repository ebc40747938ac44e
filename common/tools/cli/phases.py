"""Where a run's start-up goes: a clock per phase from the script's first instruction to the
first step, said on the run's header line so that a slow start names its cause."""
from __future__ import annotations

import time

from common.tools import entry


class Phases:
    """``mark(name)`` ends the phase called ``name`` (the time since the last mark, or since the
    script's first instruction for the first one); ``text()`` is the header's part."""

    def __init__(self) -> None:
        self._last = entry.STARTED
        self.seconds: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def total(self) -> float:
        return sum(self.seconds.values())

    def text(self) -> str:
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in self.seconds.items())
        return f"start-up {self.total():.2f} s ({parts})"
