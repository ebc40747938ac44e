"""One training step timed stage by stage, the same for every backend: framework-free, written
once here rather than in each backend's ``tools`` module, since only the waits differ and each
backend's ``synchronize`` already knows them. It calls the three parts of ``StyleBackend.step``,
which are the backends' own (this package's) and no part of the contract the core or the
tooling calls; the tooling gets it from ``common.registry.timed_step``."""
from __future__ import annotations

import time

from common.interface import StyleBackend
from common.terms import LossTerms

STAGES = ("forward", "backward", "update")


def timed_step(backend: StyleBackend) -> tuple[LossTerms[float], dict[str, float]]:
    """``backend.step()`` with the work waited for after each stage: the losses before the update,
    and seconds spent in the forward pass (features and losses), the backward pass and the
    optimizer update. The backend must have been started."""
    clock = [_clock(backend)]
    terms = backend._forward()
    clock.append(_clock(backend))
    backend._backward(terms)
    clock.append(_clock(backend))
    backend._update()
    clock.append(_clock(backend))
    seconds = {stage: clock[i + 1] - clock[i] for i, stage in enumerate(STAGES)}
    return backend._floats(terms), seconds


def _clock(backend: StyleBackend) -> float:
    # MXNet's engine is asynchronous (a GPU's queue too): without the wait, a clock read would bill
    # this stage's work to the next; PyTorch on the CPU has nothing to wait for.
    backend.synchronize()
    return time.perf_counter()
