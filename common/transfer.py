"""The training loop over sizes, the one copy every backend runs (it only calls the interface).

Read top to bottom it is the chapter's ``train``, once per size: take the targets, start from
the content (or the image of the size before, upsampled), optimise, and at the end keep the
picture with its loss. Everything it reports, and every question it asks, goes to one
:class:`~common.run.Run`; a resumed run is only a different starting point, worked out first.
"""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from . import colors
from .adam import adam
from .config import TransferConfig
from .errors import Overflow, one_line
from .images import image_size, resize_array
from .interface import StyleBackend
from .lbfgs import lbfgs
from .records import Checkpoint
from .run import Kind, Run
from .targets import Images, compute_targets, prepare_inputs, start_image
from .terms import AdamMoments, LossTerms, Targets
from .upsample import FILTERS, resize_nchw, resize_moments

OPTIMIZERS = {"adam": adam, "lbfgs": lbfgs}  # each: (backend, x, moments, targets, config, steps, done, run)


def transfer(backend: StyleBackend, content: np.ndarray, style: Images, config: TransferConfig,
             run: Optional[Run] = None) -> Run:
    """Optimise the synthesized image from the smallest size to ``config.size``; returns ``run``
    (a plain :class:`Run` when none is given) with its records, picture and ending.

    ``content`` and each style may have any size (uint8, or float in [0, 1]); each size resizes
    them from these originals. A non-finite loss, running out of memory, Ctrl-C or a requested
    stop end the run with the last good image, and ``run.ending`` says why."""
    run = run if run is not None else Run()
    run.planned, run.plateau, run._postprocess = config.total_steps, config.plateau, backend.postprocess
    x, moments = (run.start.image, run.start.moments) if run.start else (None, None)
    optimize = OPTIMIZERS[config.optimizer]
    targets: Optional[Targets] = None  # those of x's size, once taken (None: none fitted)
    stepping = False  # inside an optimizer, where the last recorded step's image is the one to keep
    try:
        for index, size, steps, done in _plan(config, run.start):
            run.at(index, size, steps)
            with backend.errors():  # the framework's out-of-memory error, in neutral words
                content_k, styles_k = prepare_inputs(content, style, size, config)
                content_x, targets = compute_targets(backend, content_k, styles_k, config)
                if x is None:
                    x = start_image(backend, content_x, styles_k, config)
                elif done == 0:  # the image of the size before, carried up
                    x, moments = _carry_up(x, moments, size, config)
                stepping = True
                if done < steps:  # a resumed size may have none left
                    x, moments = optimize(backend, x, moments, targets, config, steps, done, run)
                stepping = False
            if run.ending is not None:
                break
        if run.ending is None and run.stop_reason():  # asked to stop after the last step
            run.interrupted(run.stop_reason() or "")
        if run.ending is None and run.keeps_checkpoints:
            last = config.scales.count
            run.on_checkpoint(Checkpoint(last, config.steps_at(last), x, moments, list(run.records), run.elapsed()))
    except (KeyboardInterrupt, MemoryError, Overflow) as exc:
        if x is None:  # before any image: nothing to keep
            raise
        x = _end_early(run, exc, stepping, x)
    run.picture = backend.postprocess(x)
    try:  # milliseconds of work after a run, or a whole step at a large size: the picture is kept
        if targets is not None and (run.ending is None or run.ending.kind is not Kind.INTERRUPTED):
            run.picture_loss = _picture_loss(backend, x, targets, config)
        run.picture = colors.finish(run.picture, resize_array(content, image_size(run.picture)), config.colors)
    except KeyboardInterrupt as exc:
        _end_early(run, exc, False, x)
    run.end(Kind.FINISHED, f"all {len(run.records)} steps done")
    return run


def _plan(config: TransferConfig, start: Optional[Checkpoint]) -> Iterator[tuple[int, tuple[int, int], int, int]]:
    """(size index, size, steps there, steps already done there) of every size still to run."""
    for index, size in enumerate(config.scales.sizes(config.size), start=1):
        steps, done = config.steps_at(index), start.done if start and index == start.size_index else 0
        if start is None or index > start.size_index or (index == start.size_index and
                                                         (done < steps or index == config.scales.count)):
            yield index, size, steps, done  # a finished run's last size too: the picture needs its targets


def _end_early(run: Run, exc: BaseException, stepping: bool, x: np.ndarray) -> np.ndarray:
    """The one place where Ctrl-C, a failed allocation or a refused overflow become the run's
    ending; returns the image to keep: the last recorded step's while stepping, else ``x`` (the
    image of the size before, when a size's targets did not fit)."""
    kept = run.kept() if stepping else None
    if isinstance(exc, KeyboardInterrupt):
        run.interrupted()
    elif isinstance(exc, Overflow):
        run.end(Kind.NOT_FINITE, f"the update overflowed float32 at step {len(run.records) + 1} "
                                 f"({one_line(exc)}); saved the image from before it")
    elif stepping:
        run.end(Kind.OUT_OF_MEMORY, f"out of memory at step {len(run.records) + 1} ({one_line(exc)}); "
                                    f"saved the image from before it")
    else:
        run.end(Kind.OUT_OF_MEMORY, f"out of memory at size {run.size.height}x{run.size.width} ({one_line(exc)}); "
                                    f"saved the {x.shape[2]}x{x.shape[3]} image of the size before")
    return kept if kept is not None else x


def _carry_up(x: np.ndarray, moments: Optional[AdamMoments], size: tuple[int, int],
              config: TransferConfig) -> tuple[np.ndarray, Optional[AdamMoments]]:
    """The image upsampled to ``size``; Adam's moments resized with it, or dropped."""
    keep = moments is not None and config.scales.moments == "resize"
    return resize_nchw(x, size, FILTERS[config.scales.upsample]), resize_moments(moments, size) if keep else None


def _picture_loss(backend: StyleBackend, x: np.ndarray, targets: Targets,
                  config: TransferConfig) -> Optional[LossTerms[float]]:
    """The losses of the image as it is saved — clipped to [0, 1] — with the targets of its size:
    one more forward and backward pass, outside every step's timing; None when not finite or
    when it does not fit in memory (the picture is made: it is kept without it)."""
    try:
        with backend.errors():
            backend.use_targets(targets, config.loss_weights)
            terms, _ = backend.evaluate(backend.preprocess(backend.postprocess(x)))
    except MemoryError:
        return None
    return terms if terms.finite() else None
