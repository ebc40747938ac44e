"""The training loop over sizes, the one copy every backend runs (it only calls the interface).

Read top to bottom it is the chapter's ``train``, once per size: take the targets, start from
the content (or the image of the size before, upsampled), optimise, and at the end keep the
picture with its loss. What happens around it — signals, files, checkpoints on disk, memory
checks — is the caller's: it hears of each step through ``on_step``, is asked ``should_stop``
between steps, and is handed the run's whole state through ``on_state``.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from . import colors
from .adam import run_adam
from .config import TransferConfig
from .errors import one_line
from .images import image_size, resize_array
from .interface import StyleBackend
from .lbfgs import run_lbfgs
from .records import Resumable, TransferResult
from .steplog import StateCallback, StepCallback, StepLog, StopQuestion
from .targets import Images, compute_targets, prepare_inputs, start_image
from .terms import AdamState, LossTerms, Targets
from .upsample import FILTERS, resize_nchw, resize_state


def transfer(backend: StyleBackend, content: np.ndarray, style: Images, config: TransferConfig,
             on_step: Optional[StepCallback] = None, *, should_stop: Optional[StopQuestion] = None,
             on_state: Optional[StateCallback] = None, state_every: int = 0,
             resume: Optional[Resumable] = None) -> TransferResult:
    """Optimise the synthesized image from the smallest size to ``config.size``.

    ``content`` and each style may have any size (uint8, or float in [0, 1]); each size resizes
    them from these originals. ``on_step(record, image)`` runs after every step (``image()`` gives
    the (H, W, 3) picture the record's losses are of). ``should_stop()`` is asked after every step:
    a reason ends the run there, with its state whole. ``on_state(state)`` gets the run's whole
    state every ``state_every`` steps, when it stops so, and at its end; ``resume`` continues such
    a state. A non-finite loss, running out of memory or Ctrl-C (KeyboardInterrupt) end the run
    with the last good image, and ``result.stopped`` says why.
    """
    result = TransferResult(image=np.empty(0), records=list(resume.records) if resume else [])
    log = StepLog(result, config.total_steps, time.perf_counter() - (resume.elapsed if resume else 0.0),
                  backend.postprocess, on_step, should_stop, on_state, state_every)
    x, state = (resume.image, resume.adam) if resume else (None, None)
    targets: Optional[Targets] = None  # those of x's size, once taken
    try:
        for scale, size in enumerate(config.scales.sizes(config.size), start=1):
            steps = config.steps_at(scale)
            done = resume.done if resume and scale == resume.scale else 0
            if resume and (scale < resume.scale or done >= steps):
                continue  # done before the resumed state, whose image is past this size
            with backend.errors():  # the framework's out-of-memory error, in neutral words
                content_k, styles_k = prepare_inputs(content, style, size, config)
                content_x, size_targets = compute_targets(backend, content_k, styles_k, config)
            if x is None:
                x = start_image(backend, content_x, styles_k, config)
            elif done == 0:  # the image of the size before, carried up
                x, state = _carry_up(x, state, size, config)
            targets = size_targets
            log.begin(scale, size)
            if config.optimizer == "lbfgs":
                backend.use_targets(targets, config.weights)
                x, state = run_lbfgs(backend, x, steps - done, done, log), None
            else:
                x, state = run_adam(backend, x, targets, config, config.lr_at_scale(scale), steps, done, state, log)
            if result.stopped:
                break
    except KeyboardInterrupt:  # while resizing or taking targets: keep the image of the size before
        if x is None:
            raise
        log.interrupted()
    except MemoryError as exc:  # a larger size's targets did not fit: keep the smaller image
        if x is None:
            raise
        result.out_of_memory = True
        result.stopped = (f"out of memory at size {size[0]}x{size[1]} ({one_line(exc)}); saved the "
                          f"{x.shape[2]}x{x.shape[3]} image of the size before")
    if result.stopped is None and should_stop is not None and should_stop():  # after the last step
        log.interrupted()
    if result.stopped is None and on_state is not None:
        on_state(Resumable(config.scales.count, config.steps_at(config.scales.count), x, state,
                           list(result.records), log.elapsed()))
    if not result.interrupted:  # a whole step's time at a large size: not when asked to stop
        result.picture_loss = _picture_loss(backend, x, targets, content, style, config, log)
    result.image = _finish(backend, x, content, config, log)
    return result


def _carry_up(x: np.ndarray, state: Optional[AdamState], size: tuple[int, int],
              config: TransferConfig) -> tuple[np.ndarray, Optional[AdamState]]:
    """The image upsampled to ``size``; Adam's moments resized with it, or dropped."""
    keep = state is not None and config.scales.moments == "resize"
    return resize_nchw(x, size, FILTERS[config.scales.upsample]), resize_state(state, size) if keep else None


def _picture_loss(backend: StyleBackend, x: np.ndarray, targets: Optional[Targets], content: np.ndarray,
                  style: Images, config: TransferConfig, log: StepLog) -> Optional[LossTerms[float]]:
    """The losses of the image as it is saved — clipped to [0, 1] — with the targets of its size:
    one more forward and backward pass, outside every step's timing; None when not finite, or
    when Ctrl-C or a lack of memory cut it short (the picture is made: it is kept without it)."""
    try:
        with backend.errors():
            if targets is None:  # resumed from a finished run: nothing ran, so take its size's targets
                inputs = prepare_inputs(content, style, (x.shape[2], x.shape[3]), config)
                _, targets = compute_targets(backend, *inputs, config)
            backend.use_targets(targets, config.weights)
            terms, _ = backend.evaluate(backend.preprocess(backend.postprocess(x)))
    except KeyboardInterrupt:
        log.interrupted()
        return None
    except MemoryError:
        return None
    return terms if terms.finite() else None


def _finish(backend: StyleBackend, x: np.ndarray, content: np.ndarray, config: TransferConfig,
            log: StepLog) -> np.ndarray:
    """The picture as saved: (H, W, 3) in [0, 1], the content's colours put back where asked.
    Milliseconds of work, but the point of the run: Ctrl-C here keeps the picture as it is."""
    picture = backend.postprocess(x)
    try:
        return colors.finish(picture, resize_array(content, image_size(picture)), config.colors)
    except KeyboardInterrupt:
        log.interrupted()
        return picture
