"""common/adam.py on every backend: the schedule's rate reaches the framework's own Adam from
the right update, and the loss weights scale their terms."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import LossWeights, Schedule, TransferConfig
from common.transfer import transfer

from ..conftest import SIZE
from .test_transfer import Wrapped


def test_the_framework_s_optimizer_takes_the_decayed_rate(backend, images):
    """Decayed a millionfold after two updates, the image must stop moving at the third. (Adam
    moves each pixel by at most about 3.2 x its rate, and by exactly the rate at the first update.)"""
    lr, factor = 0.3, 1e-6
    watched = Wrapped(backend)
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=4, lr=lr, decay_every=2, decay_factor=factor))
    records = transfer(watched, *images, config).records
    assert [r.step for r in records] == [1, 2, 3, 4] and all(r.seconds > 0 for r in records)
    assert [r.lr for r in records] == pytest.approx([lr, lr, lr * factor, lr * factor])  # what the log says
    moves = [np.abs(after - before).max() for before, after in zip(watched.images, watched.images[1:])]
    assert moves[0] == pytest.approx(lr, rel=1e-3) and moves[1] > 0.1 * lr  # updates 1 and 2: the full rate
    assert moves[2] < 3.2 * lr * factor  # update 3: the decayed rate, in the framework's optimizer


def test_loss_weights_scale_their_terms(backend, images):
    base = TransferConfig(size=SIZE, schedule=Schedule(steps=1))
    doubled = TransferConfig(size=SIZE, schedule=Schedule(steps=1), loss_weights=LossWeights(1, 2e4, 20))
    a, b = transfer(backend, *images, base).records[0], transfer(backend, *images, doubled).records[0]
    assert b.style == pytest.approx(2 * a.style, rel=1e-5) and b.tv == pytest.approx(2 * a.tv, rel=1e-5)


def test_bounded_keeps_every_pixel_in_range(backend, images):
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=3, lr=5.0), bounded=True)
    watched = Wrapped(backend)
    transfer(watched, *images, config)
    raw = watched.images[1:]  # the images after updates 1 and 2, at a rate that leaves the range unclipped
    low = np.asarray(backend.convention.low).reshape(1, 3, 1, 1)
    high = np.asarray(backend.convention.high).reshape(1, 3, 1, 1)
    assert all(np.all(x >= low - 1e-5) and np.all(x <= high + 1e-5) for x in raw) and len(raw) == 2
