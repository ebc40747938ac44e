"""Adam at one size: each framework's own Adam over the image, with the step-decay learning
rate, the image kept inside [0, 1] when asked, and the last image whose loss was finite kept."""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from .config import TransferConfig
from .interface import StyleBackend
from .steplog import Next, StepLog
from .terms import AdamState, Targets


def run_adam(backend: StyleBackend, init: np.ndarray, targets: Targets, config: TransferConfig, lr0: float,
             steps: int, done: int, state: Optional[AdamState], log: StepLog) -> tuple[np.ndarray, Optional[AdamState]]:
    """Updates ``done + 1`` to ``steps`` from ``init`` (and Adam's ``state``, None for a fresh
    Adam); returns the image to keep and Adam's state with it (None when the image is from
    before the last update)."""
    schedule = config.schedule
    lr = schedule.lr_at(done, lr0)  # a resumed run starts at the rate the stopped one had reached
    last_good: Optional[int] = None  # the slot holding the last image whose loss was finite
    with log.ending_early(), backend.errors():  # backend.errors: the framework's failures in neutral words
        verdict = Next.GO
        backend.start(init, targets, config.weights, config.adam, lr, state)
        for step in range(done, steps):
            if schedule.lr_at(step, lr0) != lr:
                lr = schedule.lr_at(step, lr0)
                backend.set_learning_rate(lr)
            # A device-side copy of the image this step starts from, in two alternating slots: if
            # a later loss is not finite, the one before it is kept. No host copy, no waiting.
            slot = step % 2
            backend.keep(slot)
            backend.synchronize()  # an asynchronous engine would otherwise bill queued work to this step
            start = time.perf_counter()
            terms = backend.step()  # the losses at the image before the update: logging needs them
            if config.bounded:
                backend.clip_image()
            backend.synchronize()
            seconds = time.perf_counter() - start
            verdict = log.record(terms, lr, seconds, lambda: backend.kept_image(slot),
                                 lambda: (step + 1, backend.image(), backend.optimizer_state()))
            if verdict is Next.DIVERGED:
                break
            last_good = slot
            if verdict is Next.STOP:
                break
        if log.result.stopped is None or verdict is Next.STOP:  # every step ran, or stopped whole
            image = backend.image()
            if np.all(np.isfinite(image)):
                return image, backend.optimizer_state()
            log.result.diverged = True
            log.result.stopped = "the image became non-finite; saved the one before"
    return (init if last_good is None else backend.kept_image(last_good)), None
