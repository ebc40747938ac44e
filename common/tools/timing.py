"""Synchronised time per stage of a training step, for the benchmark and the comparison: every
clock read waits for the work first (MXNet's engine is asynchronous, a GPU's queue too)."""
from __future__ import annotations

import numpy as np

from common.interface import StyleBackend
from common.registry import timed_step


def time_steps(backend: StyleBackend, steps: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per stage (forward, backward, update) and per whole step over ``steps``
    synchronised steps, after ``warmup`` untimed ones; the backend must have been started."""
    for _ in range(warmup):
        timed_step(backend)
    samples = [timed_step(backend)[1] for _ in range(max(1, steps))]
    times = {stage: float(np.median([s[stage] for s in samples])) for stage in samples[0]}
    times["step"] = float(np.median([sum(s.values()) for s in samples]))
    return times
