"""common/transfer.py, the loop over sizes, on every backend: it lowers the loss, resumes from
any checkpoint bit-identically (Adam, across sizes), and every ending keeps the right image."""
from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest

from common.config import Schedule, Scales, TransferConfig
from common.errors import OutOfMemory
from common.run import Kind, Run
from common.terms import LossTerms
from common.transfer import transfer

from ..conftest import SIZE, cpu_backend, synthetic_image


class Recording(Run):
    """Keeps every checkpoint offered; asks to stop at ``stop_at``."""
    keeps_checkpoints = True

    def __init__(self, start=None, checkpoint_every=0, stop_at=None):
        super().__init__(start, checkpoint_every)
        self.checkpoints, self.stop_at, self.seen = [], stop_at, []

    def on_step(self, record, picture):
        self.seen.append(record.step)
        if record.step == self.stop_at:
            self.request_stop("the caller's reason")

    def on_checkpoint(self, checkpoint):
        self.checkpoints.append(checkpoint)


class Wrapped:
    """A backend whose ``step`` keeps the image it starts from, and can fail at step ``bad``:
    ``"nan"`` turns its loss NaN, an exception is raised there."""

    def __init__(self, inner, bad: int = 0, failure=None):
        self._inner, self._bad, self._failure, self.images = inner, bad, failure, []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def step(self):
        self.images.append(self._inner.image())
        if len(self.images) == self._bad and self._failure != "nan":
            raise self._failure
        terms = self._inner.step()
        return LossTerms(math.nan, terms.style, terms.tv, math.nan) if len(self.images) == self._bad else terms


def two_sizes(**changes) -> TransferConfig:
    fields = dict(size=SIZE, schedule=Schedule(7, 0.3, 3, 0.8), scales=Scales(2, 1.25, 4, 0.1, "resize"))
    fields.update(changes)
    return TransferConfig(**fields).validate()


def losses(records):
    return [(r.step, r.content, r.style, r.tv, r.total, r.lr, r.size_index, r.height, r.width) for r in records]


@pytest.fixture(scope="module")
def inputs():
    return synthetic_image(1, SIZE), synthetic_image(2, (48, 48))


def test_a_short_run_lowers_the_total_loss(backend, images):
    run = transfer(backend, *images, TransferConfig(size=SIZE, schedule=Schedule(steps=12)))
    totals = [r.total for r in run.records]
    assert run.finished and len(totals) == 12 and totals[-1] < 0.7 * totals[0]
    assert run.picture.shape == (*SIZE, 3) and 0 <= run.picture.min() and run.picture.max() <= 1
    assert run.records[0].content == 0.0  # the image starts as the content image
    assert run.picture_loss is not None and run.picture_loss.total < totals[0]


@pytest.mark.parametrize("moments", ["resize", "reset"])
def test_resuming_anywhere_is_bit_identical_with_adam(backend_name, inputs, moments):
    backend = cpu_backend(backend_name)
    config = two_sizes(scales=Scales(2, 1.25, 4, 0.1, moments))
    full = transfer(backend, *inputs, config, Recording(checkpoint_every=2))
    # every 2 steps, plus the end: mid-size, at the end of the first size (step 4), mid final size
    assert [(c.size_index, c.done) for c in full.checkpoints] == [(1, 2), (1, 4), (2, 2), (2, 4), (2, 6), (2, 7)]
    for checkpoint in full.checkpoints[:-1]:
        resumed = transfer(backend, *inputs, config, Run(checkpoint))
        assert np.array_equal(resumed.picture, full.picture), (checkpoint.size_index, checkpoint.done)
        assert losses(resumed.records) == losses(full.records) and resumed.picture_loss == full.picture_loss


def test_a_stop_asked_for_ends_at_a_step_boundary_with_a_state_that_resumes_exactly(backend_name, inputs):
    backend = cpu_backend(backend_name)
    config = two_sizes(scales=Scales())
    full = transfer(backend, *inputs, config)
    stopped = transfer(backend, *inputs, config, Recording(stop_at=3))
    assert stopped.ending == (Kind.INTERRUPTED, "interrupted (the caller's reason) after 3 of 7 steps; "
                                                "saved the image from step 3")
    assert [(c.size_index, c.done) for c in stopped.checkpoints] == [(1, 3)] and stopped.picture_loss is None
    resumed = transfer(backend, *inputs, config, Run(stopped.checkpoints[0]))
    assert np.array_equal(resumed.picture, full.picture) and losses(resumed.records) == losses(full.records)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_finished_run_goes_on_for_more_steps_exactly_as_a_longer_run(backend_name, inputs, optimizer):
    backend = cpu_backend(backend_name)
    short, long = two_sizes(optimizer=optimizer), two_sizes(optimizer=optimizer, schedule=Schedule(11, 0.3, 3, 0.8))
    finished = transfer(backend, *inputs, short, Recording()).checkpoints[-1]
    assert (finished.size_index, finished.done) == (2, 7)
    more = transfer(backend, *inputs, long, Run(finished))
    if optimizer == "adam":  # Adam's moments is in the checkpoint: the continuation is exact
        unbroken = transfer(backend, *inputs, long)
        assert np.array_equal(more.picture, unbroken.picture) and losses(more.records) == losses(unbroken.records)
    else:  # SciPy's curvature pairs are not: it restarts from the best image with the 4 evaluations added
        assert len(more.records) == 4 + 4 + 7 and more.records[-1].step == 15


def test_a_finished_run_resumed_with_nothing_left_gives_its_picture_and_loss(inputs):
    backend = cpu_backend("torch")
    config = two_sizes(scales=Scales())
    full = transfer(backend, *inputs, config, Recording())
    again = transfer(backend, *inputs, config, Run(full.checkpoints[-1]))
    assert again.finished and len(again.records) == 7 and np.array_equal(again.picture, full.picture)
    assert again.picture_loss == full.picture_loss


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_image(backend, images):
    wrapped, run = Wrapped(backend, bad=4, failure="nan"), Recording()
    transfer(wrapped, *images, TransferConfig(size=SIZE, schedule=Schedule(steps=10)), run)
    assert run.ending.kind is Kind.NOT_FINITE and "step 4" in run.ending.message
    assert run.seen == [1, 2, 3] and len(run.records) == 3
    # the image whose loss (step 3) was the last finite one
    np.testing.assert_allclose(run.picture, backend.postprocess(wrapped.images[2]), atol=1e-6)


def test_a_nan_at_the_first_step_keeps_the_content_image(backend, images):
    run = transfer(Wrapped(backend, bad=1, failure="nan"), *images, TransferConfig(size=SIZE, schedule=Schedule(steps=3)))
    assert run.ending.kind is Kind.NOT_FINITE and not run.records
    np.testing.assert_allclose(run.picture, images[0], atol=1e-6)


def test_ctrl_c_stops_the_run_and_keeps_the_last_good_image(backend, images):
    wrapped = Wrapped(backend, bad=3, failure=KeyboardInterrupt())
    run = transfer(wrapped, *images, TransferConfig(size=SIZE, schedule=Schedule(steps=10)))
    assert run.ending == (Kind.INTERRUPTED, "interrupted after 2 of 10 steps; saved the image from step 2")
    np.testing.assert_allclose(run.picture, backend.postprocess(wrapped.images[1]), atol=1e-6)


def test_ctrl_c_before_any_image_is_not_swallowed(images):
    class Refusing(Wrapped):
        def preprocess(self, image):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transfer(Refusing(cpu_backend("torch")), *images, TransferConfig(size=SIZE, schedule=Schedule(steps=2)))


def test_out_of_memory_in_a_step_keeps_the_image_before_it(images):
    backend = cpu_backend("torch")
    wrapped = Wrapped(backend, bad=3, failure=OutOfMemory("no room"))
    run = transfer(wrapped, *images, TransferConfig(size=SIZE, schedule=Schedule(steps=6)))
    assert run.ending == (Kind.OUT_OF_MEMORY, "out of memory at step 3 (no room); saved the image from before it")
    np.testing.assert_allclose(run.picture, backend.postprocess(wrapped.images[1]), atol=1e-6)


def test_a_larger_size_that_does_not_fit_keeps_the_image_of_the_size_before(inputs):
    backend = cpu_backend("torch")

    class Small(Wrapped):
        def extract_features(self, x, layers):
            if x.shape[2] == SIZE[0]:
                raise OutOfMemory("targets too large")
            return self._inner.extract_features(x, layers)

    run = transfer(Small(backend), *inputs, two_sizes())
    assert run.ending.kind is Kind.OUT_OF_MEMORY and "at size 40x56" in run.ending.message
    assert len(run.records) == 4 and run.picture.shape == (32, 45, 3)  # the first size's picture


def test_the_core_touches_no_signal_handler_and_a_real_ctrl_c_keeps_the_last_image(inputs):
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist workers may ignore SIGINT
    try:
        class Signalling(Recording):
            def on_step(self, record, picture):
                self.seen.append(signal.getsignal(signal.SIGINT))
                if record.step == 3:
                    os.kill(os.getpid(), signal.SIGINT)  # Python's own handler: KeyboardInterrupt, here and now

        run = transfer(cpu_backend("torch"), *inputs, two_sizes(scales=Scales()), Signalling())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert set(run.seen) == {signal.default_int_handler}  # the loop installed nothing
    assert run.ending.kind is Kind.INTERRUPTED and "after 3 of 7" in run.ending.message
    assert run.picture_loss is None and run.picture.shape == (*SIZE, 3)


def test_a_flat_size_hands_on_to_the_next_and_the_run_resumes_exactly(backend_name, inputs):
    from common.config import Plateau

    backend = cpu_backend(backend_name)
    config = two_sizes(schedule=Schedule(30, 0.3, 50, 0.8), scales=Scales(2, 1.25, 30, 0.1, "reset"),
                       plateau=Plateau(window=3, fraction=0.05))
    full = transfer(backend, *inputs, config, Recording(checkpoint_every=3))
    per_size = [sum(r.size_index == i for r in full.records) for i in (1, 2)]
    early = [n for n in per_size if n < 30]
    assert full.finished and per_size[0] > 0 and per_size[1] > 0 and early, per_size
    assert len(full.notes) == len(early) and all("done after" in note for note in full.notes)
    for checkpoint in full.checkpoints[:-1]:
        resumed = transfer(backend, *inputs, config, Run(checkpoint))
        assert losses(resumed.records) == losses(full.records), (checkpoint.size_index, checkpoint.done)
        assert np.array_equal(resumed.picture, full.picture)
