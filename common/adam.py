"""Adam at one size: each framework's own Adam over the image, with the step-decay learning
rate, the image kept inside [0, 1] when asked, and the last image whose loss was finite kept."""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from .config import TransferConfig
from .interface import StyleBackend
from .run import Kind, Run
from .terms import AdamMoments, Targets


def adam(backend: StyleBackend, x: np.ndarray, moments: Optional[AdamMoments], targets: Targets,
         config: TransferConfig, steps: int, done: int, run: Run) -> tuple[np.ndarray, Optional[AdamMoments]]:
    """Updates ``done + 1`` to ``steps`` from image ``x`` and Adam's ``moments`` (None: a fresh
    Adam); returns the image to keep and Adam's moments with it (None when the image is from
    before the last update)."""
    lr0 = config.lr_at(run.size.index)
    lr = config.schedule.lr_at(done, lr0)  # a resumed run starts at the rate the stopped one had reached
    backend.start(x, targets, config.loss_weights, config.adam, lr, moments)
    for step in range(done, steps):
        if config.schedule.lr_at(step, lr0) != lr:
            lr = config.schedule.lr_at(step, lr0)
            backend.set_learning_rate(lr)
        # A device-side copy of the image this step starts from, in two alternating slots: if
        # a later loss is not finite, the one before it is kept. No host copy, no waiting.
        slot = step % 2
        backend.keep(slot)
        backend.synchronize()  # an asynchronous engine would otherwise bill queued work to this step
        clock = time.perf_counter()
        terms = backend.step()  # the losses at the image before the update: logging needs them
        if config.bounded:
            backend.clip_image()
        backend.synchronize()
        if not run.record(terms, lr, time.perf_counter() - clock, lambda slot=slot: backend.kept_image(slot),
                          lambda step=step: (step + 1, backend.image(), backend.adam_moments())):
            break
    else:
        image = backend.image()
        if np.all(np.isfinite(image)):
            return image, backend.adam_moments()
        run.end(Kind.NOT_FINITE, "the image became non-finite; saved the one before")
    if run.ending is None or run.ending.kind is Kind.INTERRUPTED:  # stopped between steps (or flat): whole
        return backend.image(), backend.adam_moments()
    kept = run.kept()
    return (x if kept is None else kept), None
