"""The common training loop on every backend: it lowers the loss, follows the schedule,
and stops cleanly on a non-finite loss."""
from __future__ import annotations

import math

import numpy as np
import pytest

from common.config import LossWeights, Schedule, TransferConfig
from common.terms import LossTerms
from common.transfer import transfer

from .conftest import SIZE


def test_a_short_run_lowers_the_total_loss(backend, images):
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=12))
    result = transfer(backend, *images, config)
    totals = [r.total for r in result.records]
    assert result.stopped is None and len(totals) == 12
    assert totals[-1] < 0.7 * totals[0]
    assert result.image.shape == (*SIZE, 3) and 0 <= result.image.min() and result.image.max() <= 1
    assert result.records[0].content == 0.0  # the image starts as the content image


class Watched:
    """Wraps a backend and keeps the image each step starts from."""

    def __init__(self, inner):
        self._inner = inner
        self.images: list[np.ndarray] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def step(self):
        self.images.append(self._inner.image())
        return self._inner.step()


def test_the_framework_s_optimizer_takes_the_decayed_rate(backend, images):
    """The schedule's rate must reach the framework's optimizer, from the right update: decayed
    a millionfold after two updates, the image must stop moving at the third. (Adam moves each
    pixel by at most about 3.2 x its rate, and by exactly the rate at the first update.)"""
    lr, factor = 0.3, 1e-6
    watched = Watched(backend)
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=4, lr=lr, decay_every=2, decay_factor=factor))
    records = transfer(watched, *images, config).records
    assert [r.step for r in records] == [1, 2, 3, 4] and all(r.seconds > 0 for r in records)
    assert [r.lr for r in records] == pytest.approx([lr, lr, lr * factor, lr * factor])  # what the log says
    moves = [np.abs(after - before).max() for before, after in zip(watched.images, watched.images[1:])]
    assert moves[0] == pytest.approx(lr, rel=1e-3) and moves[1] > 0.1 * lr  # updates 1 and 2: the full rate
    assert moves[2] < 3.2 * lr * factor  # update 3: the decayed rate, in the framework's optimizer


def test_weights_scale_their_terms(backend, images):
    base = TransferConfig(size=SIZE, schedule=Schedule(steps=1))
    doubled = TransferConfig(size=SIZE, schedule=Schedule(steps=1), weights=LossWeights(1, 2e4, 20))
    a, b = transfer(backend, *images, base).records[0], transfer(backend, *images, doubled).records[0]
    assert b.style == pytest.approx(2 * a.style, rel=1e-5) and b.tv == pytest.approx(2 * a.tv, rel=1e-5)


class Diverging:
    """Wraps a backend so that its loss turns NaN at a chosen step."""

    def __init__(self, inner, bad_step: int):
        self._inner, self._bad, self._count = inner, bad_step, 0
        self.images: list[np.ndarray] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def step(self):
        self._count += 1
        self.images.append(self._inner.image())
        terms = self._inner.step()
        return LossTerms(math.nan, terms.style, terms.tv, math.nan) if self._count == self._bad else terms


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_image(backend, images):
    wrapped = Diverging(backend, bad_step=4)
    seen = []
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=10))
    result = transfer(wrapped, *images, config, on_step=lambda record, _: seen.append(record.step))
    assert result.diverged and "step 4" in result.stopped
    assert seen == [1, 2, 3] and len(result.records) == 3
    # the image whose loss (step 3) was the last finite one
    np.testing.assert_allclose(result.image, backend.postprocess(wrapped.images[2]), atol=1e-6)


def test_a_nan_at_the_first_step_keeps_the_content_image(backend, images):
    result = transfer(Diverging(backend, bad_step=1), *images, TransferConfig(size=SIZE, schedule=Schedule(steps=3)))
    assert result.diverged and not result.records
    np.testing.assert_allclose(result.image, images[0], atol=1e-6)


class Interrupted(Diverging):
    """Ctrl-C during a chosen step."""

    def step(self):
        self._count += 1
        self.images.append(self._inner.image())
        if self._count == self._bad:
            raise KeyboardInterrupt
        return self._inner.step()


def test_ctrl_c_stops_the_run_and_keeps_the_last_good_image(backend, images):
    wrapped = Interrupted(backend, bad_step=3)
    result = transfer(wrapped, *images, TransferConfig(size=SIZE, schedule=Schedule(steps=10)))
    assert "interrupted after 2 of 10" in result.stopped and not result.diverged
    np.testing.assert_allclose(result.image, backend.postprocess(wrapped.images[1]), atol=1e-6)


def framework_out_of_memory(backend) -> Exception:
    """The error each framework itself raises when an allocation fails (its own words)."""
    if backend.name == "mxnet":
        import mxnet as mx

        return mx.base.MXNetError("Traceback (most recent call last):\n  File \"../src/storage/./cpu_device_storage.h\", "
                                  "line 72\nMXNetError: Failed to allocate CPU Memory")
    return RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                        "you tried to allocate 207360000 bytes.")


class FailingEvaluation(Watched):
    """L-BFGS's evaluations, the ``at``-th of which fails with ``error`` or returns an overflowed gradient."""

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


def test_lbfgs_out_of_memory_keeps_its_best_image_at_the_first_size(backend, images):
    """It used to say "the image of the size before" and save the start image instead."""
    wrapped = FailingEvaluation(backend, at=4, error=framework_out_of_memory(backend))
    result = transfer(wrapped, *images, TransferConfig(size=SIZE, optimizer="lbfgs", schedule=Schedule(steps=8)))
    assert result.out_of_memory and "out of memory at step 4" in result.stopped and "size before" not in result.stopped
    assert len(result.records) == 3 and min(wrapped.totals) < wrapped.totals[0]
    # the best of the three evaluated images, not the start image: its loss is the lowest logged
    assert result.picture_loss.total == pytest.approx(min(wrapped.totals), rel=1e-4)


def test_lbfgs_stops_on_a_gradient_that_overflowed_float32(backend, images):
    wrapped = FailingEvaluation(backend, at=3)
    result = transfer(wrapped, *images, TransferConfig(size=SIZE, optimizer="lbfgs", schedule=Schedule(steps=8)))
    assert result.diverged and "gradient overflowed float32 at step 3" in result.stopped
    assert len(result.records) == 3 and result.picture_loss.total == pytest.approx(min(wrapped.totals), rel=1e-4)
