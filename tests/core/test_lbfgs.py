"""common/lbfgs.py on every backend: its budget holds, and a failed evaluation or an overflowed
gradient ends it with the best image evaluated so far."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import Schedule, TransferConfig
from common.run import Kind
from common.transfer import transfer

from ..conftest import SIZE
from .test_transfer import Wrapped


class FailingEvaluation(Wrapped):
    """The ``at``-th evaluation fails with ``error``, or (no error) returns an overflowed gradient."""

    def __init__(self, inner, at: int, error=None):
        super().__init__(inner)
        self._at, self._error, self.totals = at, error, []

    def evaluate(self, x):
        if len(self.totals) + 1 == self._at and self._error is not None:
            error, self._error = self._error, None  # once: the picture's loss afterwards is computed
            raise error
        terms, grad = self._inner.evaluate(x)
        self.totals.append(terms.total)
        if len(self.totals) == self._at:
            grad = grad * np.float32(np.inf)
        return terms, grad


def framework_out_of_memory(backend) -> Exception:
    """The error each framework itself raises when an allocation fails (its own words)."""
    if backend.name == "mxnet":
        import mxnet as mx

        return mx.base.MXNetError("Traceback (most recent call last):\n  File \"../src/storage/./cpu_device_storage.h\", "
                                  "line 72\nMXNetError: Failed to allocate CPU Memory")
    return RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                        "you tried to allocate 207360000 bytes.")


def lbfgs(steps: int) -> TransferConfig:
    return TransferConfig(size=SIZE, optimizer="lbfgs", schedule=Schedule(steps=steps))


def test_the_budget_of_evaluations_holds_and_the_best_image_is_kept(backend, images):
    wrapped = FailingEvaluation(backend, at=0)
    run = transfer(wrapped, *images, lbfgs(6))
    assert run.finished and len(run.records) == 6 and all(r.lr is None for r in run.records)
    assert len(wrapped.totals) == 6 + 1  # six in the run, one for the picture as saved
    assert run.picture_loss.total <= min(wrapped.totals[:6]) * (1 + 1e-4)


def test_out_of_memory_keeps_its_best_image_at_the_first_size(backend, images):
    """It used to say "the image of the size before" and save the start image instead."""
    wrapped = FailingEvaluation(backend, at=4, error=framework_out_of_memory(backend))
    run = transfer(wrapped, *images, lbfgs(8))
    assert run.ending.kind is Kind.OUT_OF_MEMORY and "out of memory at step 4" in run.ending.message
    assert "size before" not in run.ending.message
    assert len(run.records) == 3 and min(wrapped.totals) < wrapped.totals[0]
    # the best of the three evaluated images, not the start image: its loss is the lowest logged
    assert run.picture_loss.total == pytest.approx(min(wrapped.totals), rel=1e-4)


def test_a_gradient_that_overflowed_float32_ends_it(backend, images):
    wrapped = FailingEvaluation(backend, at=3)
    run = transfer(wrapped, *images, lbfgs(8))
    assert run.ending.kind is Kind.NOT_FINITE and "gradient overflowed float32 at step 3" in run.ending.message
    assert len(run.records) == 3 and run.picture_loss.total == pytest.approx(min(wrapped.totals), rel=1e-4)


def test_a_resumed_run_restarts_from_the_saved_image_with_the_remaining_evaluations(images):
    from common.run import Run

    from ..conftest import cpu_backend
    from .test_transfer import Recording, losses

    backend = cpu_backend("torch")
    config = lbfgs(7)
    full = transfer(backend, *images, config, Recording(checkpoint_every=4))
    resumed = transfer(backend, *images, config, Run(full.checkpoints[0]))
    assert [r.step for r in resumed.records] == list(range(1, 8))
    assert losses(resumed.records[:4]) == losses(full.records[:4])
    # SciPy's curvature pairs are gone: evaluation 5 restarts at the best image evaluated so far
    assert resumed.records[4].total == pytest.approx(min(r.total for r in full.records[:4]), rel=1e-6)
