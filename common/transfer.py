"""The one copy of the training algorithm: inputs and targets at each size, the start image,
coarse to fine, Adam with its learning-rate schedule or L-BFGS, the NaN guard, the loss of the
picture as saved.

Every backend runs exactly this; it only calls the interface.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import colors
from .config import TransferConfig
from .images import fit_long_edge, image_size, resize_array
from .errors import is_out_of_memory, is_overflow, one_line
from .interface import AdamState, StyleBackend, Targets
from .interrupts import StepBoundary, StopRequested
from .lbfgs import run_lbfgs
from .terms import LossTerms
from .records import Resumable, StepRecord, TransferResult
from .upsample import FILTERS, resize_standardised, resize_state

Images = Union[np.ndarray, Sequence[np.ndarray]]


StepCallback = Callable[[StepRecord, Callable[[], np.ndarray]], None]


def _as_list(images: Images) -> list[np.ndarray]:
    return [images] if isinstance(images, np.ndarray) else list(images)


def style_size(style: np.ndarray, content_size: tuple[int, int], config: TransferConfig) -> tuple[int, int]:
    """A style image keeps its aspect ratio, its long edge ``style_scale`` x the content's; or,
    stretched as the chapter does, it takes the content's height and width."""
    if config.style_fit == "stretch":
        return content_size
    height, width = fit_long_edge(image_size(style), config.style_scale * max(content_size))
    return max(height, 16), max(width, 16)  # relu5_1 needs a 1x1 map after four 2x2 pools


def prepare_inputs(content: np.ndarray, styles: Images, size: tuple[int, int],
                   config: TransferConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content at ``size`` and each style at its own size, colour-prepared as configured."""
    content_k = resize_array(content, size)
    styles_k = [resize_array(s, style_size(s, size, config)) for s in _as_list(styles)]
    return colors.prepare_inputs(content_k, styles_k, config.colors)


def compute_targets(backend: StyleBackend, content: np.ndarray, style: Images,
                    config: TransferConfig) -> tuple[np.ndarray, Targets]:
    """Preprocess the images once; content features and the style Gram matrices, blended over
    several styles as sum_i w_i G_i per layer, are the fixed targets."""
    styles = _as_list(style)
    content_x = backend.preprocess(content)
    content_features = backend.extract_features(content_x, config.content_layers)
    grams: dict[int, np.ndarray] = {}
    for weight, image in zip(config.blend(len(styles)), styles):
        for index, y in zip(config.style_layers, backend.extract_features(backend.preprocess(image), config.style_layers)):
            gram = weight * backend.gram(y)  # one style: weight 1.0, so exactly its Gram matrix
            grams[index] = grams[index] + gram if index in grams else gram
    return content_x, Targets(content=dict(zip(config.content_layers, content_features)), grams=grams)


def start_image(backend: StyleBackend, content_x: np.ndarray, styles: list[np.ndarray],
                config: TransferConfig) -> np.ndarray:
    """The image the first size starts from: the content, seeded uniform noise, or the first style."""
    if config.init == "content":
        return content_x
    height, width = content_x.shape[2:]
    if config.init == "noise":
        return backend.preprocess(np.random.default_rng(config.seed).random((height, width, 3), dtype=np.float32))
    return backend.preprocess(resize_array(styles[0], (height, width)))


CheckpointCallback = Callable[[Resumable], None]


def transfer(backend: StyleBackend, content: np.ndarray, style: Images, config: TransferConfig,
             on_step: StepCallback | None = None, *, on_checkpoint: CheckpointCallback | None = None,
             checkpoint_every: int = 0, resume: Optional[Resumable] = None) -> TransferResult:
    """Optimise the synthesized image from the smallest size to ``config.size``.

    ``content`` and each style may have any size (uint8 or float in [0, 1]); they are resized
    for each size from these originals. ``on_step(record, current_image)`` runs after each step;
    ``current_image()`` returns the image the record's losses are of, as (H, W, 3), when the
    caller wants it. ``on_checkpoint(state)`` gets the run's whole state every ``checkpoint_every``
    steps, when Ctrl-C or SIGTERM stops the run, and at its end; ``resume`` continues such a state.
    A NaN or infinite loss stops the run and keeps the last image whose loss was finite; running
    out of memory in a step does the same (``result.out_of_memory``).
    """
    result = TransferResult(image=np.empty(0), records=list(resume.records) if resume else [])
    clock = time.perf_counter() - (resume.elapsed if resume else 0.0)
    sizes = config.scales.sizes(config.size)
    x: Optional[np.ndarray] = resume.image if resume else None
    state: Optional[AdamState] = resume.adam if resume else None
    targets: Optional[Targets] = None
    with StepBoundary() as boundary:
        try:
            for scale, size in enumerate(sizes, start=1):
                last = scale == len(sizes)
                steps = config.schedule.steps if last else config.scales.steps
                if resume and (scale < resume.scale or (scale == resume.scale and resume.done >= steps)):
                    continue  # done before the checkpoint: its image and state are resume's
                content_k, styles_k = prepare_inputs(content, style, size, config)
                content_x, targets = compute_targets(backend, content_k, styles_k, config)
                done = 0
                if resume and scale == resume.scale:
                    done = resume.done
                elif x is None:
                    x = start_image(backend, content_x, styles_k, config)
                else:
                    x = resize_standardised(x, size, FILTERS[config.scales.upsample])
                    keep = state is not None and config.scales.moments == "resize"
                    state = resize_state(state, size) if keep else None
                step = _Stepper(result, scale, size, clock, on_step, backend, config.total_steps, boundary,
                                on_checkpoint, checkpoint_every)
                if config.optimizer == "lbfgs":
                    backend.use_targets(targets, config.weights)
                    x = run_lbfgs(backend, x, steps - done, step, done)
                    state = None
                else:
                    x, state = _run_adam(backend, x, targets, config, steps, done, state, step)
                if result.stopped:
                    break
        except KeyboardInterrupt:  # while resizing or taking targets: keep the image of the size before
            if x is None:
                raise
            result.stopped = (f"interrupted after {len(result.records)} of {config.total_steps} steps; "
                              f"saved the image so far")
        except (MemoryError, RuntimeError) as exc:  # a larger size's targets did not fit: keep the smaller image
            if x is None or targets is None or not is_out_of_memory(exc):
                raise
            result.out_of_memory = True
            result.stopped = (f"out of memory at size {size[0]}x{size[1]} ({one_line(exc)}); saved the "
                              f"{x.shape[2]}x{x.shape[3]} image of the size before")
        if result.stopped is None and on_checkpoint is not None:
            last_steps = config.schedule.steps
            on_checkpoint(Resumable(len(sizes), last_steps, x, state, list(result.records),
                                    time.perf_counter() - clock))
    if targets is None:  # resumed from a finished run: the last size's targets, for the picture's loss
        content_k, styles_k = prepare_inputs(content, style, sizes[-1], config)
        _, targets = compute_targets(backend, content_k, styles_k, config)
    backend.use_targets(targets, config.weights)
    result.picture = _picture_loss(backend, x)
    final = backend.postprocess(x)
    result.image = colors.finish(final, resize_array(content, image_size(final)), config.colors)
    return result


Position = Callable[[], tuple[int, np.ndarray, Optional[AdamState]]]


class _Stepper:
    """Turns one step's losses into a record, stops the run on a non-finite loss, tells the
    caller, writes checkpoints, and ends the run at a step boundary on Ctrl-C or SIGTERM; shared
    by Adam and L-BFGS so both log, stop, checkpoint and report alike."""

    def __init__(self, result: TransferResult, scale: int, size: tuple[int, int], clock: float,
                 on_step: StepCallback | None, backend: StyleBackend, planned: int, boundary: StepBoundary,
                 on_checkpoint: CheckpointCallback | None = None, every: int = 0) -> None:
        self.result, self.scale, self.size, self.clock = result, scale, size, clock
        self.on_step, self.backend = on_step, backend
        self.planned = planned  # steps of the whole run, for messages
        self.boundary, self.on_checkpoint, self.every = boundary, on_checkpoint, every

    def __call__(self, terms: LossTerms[float], lr: Optional[float], seconds: float,
                 current: Callable[[], np.ndarray], position: Position) -> bool:
        """False (and the result says why) when the loss is not finite. ``current`` gives the image
        the losses are of; ``position`` the (steps done at this size, image, Adam state) after the step."""
        records = self.result.records
        if not terms.finite():
            self.result.diverged = True
            self.result.stopped = (f"the loss became {_describe_nonfinite(terms.as_dict())} at step {len(records) + 1}; "
                                   f"saved the image from before it (last finite total {records[-1].total:.6g})"
                                   if records else f"the loss is {_describe_nonfinite(terms.as_dict())} at the "
                                                   f"first step; saved the start image")
            return False
        record = StepRecord(len(records) + 1, terms.content, terms.style, terms.tv, terms.total, lr, seconds,
                            self.scale, *self.size, time.perf_counter() - self.clock)
        records.append(record)
        if self.on_step is not None:
            self.on_step(record, lambda: self.backend.postprocess(current()))
        stop = self.boundary.requested is not None
        if self.on_checkpoint is not None and (stop or (self.every and record.step % self.every == 0)):
            done, image, state = position()
            self.on_checkpoint(Resumable(self.scale, done, image, state, list(records),
                                         time.perf_counter() - self.clock))
        self.boundary.check()
        return True

    def interrupted(self) -> None:
        done = len(self.result.records)
        self.result.stopped = f"interrupted after {done} of {self.planned} steps; saved the image from step {done}"

    def out_of_memory(self, exc: BaseException) -> None:
        self.result.out_of_memory = True
        self.result.stopped = (f"out of memory at step {len(self.result.records) + 1} ({one_line(exc)}); "
                               f"saved the image from before it")


def _run_adam(backend: StyleBackend, init: np.ndarray, targets: Targets, config: TransferConfig, steps: int,
              done: int, state: Optional[AdamState], stepper: _Stepper) -> tuple[np.ndarray, Optional[AdamState]]:
    """Adam updates ``done + 1`` to ``steps`` at one size; returns the image to keep and Adam's state."""
    schedule = config.schedule
    lr0 = config.schedule.lr if stepper.scale == 1 else config.scales.lr

    def rate(step: int) -> float:
        return schedule.lr_at(step, lr0)

    lr = rate(done)  # a resumed run starts with the rate the stopped one had reached
    backend.start(init, targets, config.weights, config.adam, lr, state)
    last_good: Optional[int] = None  # checkpoint slot of the last image whose loss was finite
    whole = False  # stopped at a step boundary: the current image and Adam's state belong together
    try:
        for step in range(done, steps):
            if rate(step) != lr:
                lr = rate(step)
                backend.set_learning_rate(lr)
            # A device-side copy of the image this step starts from, in two alternating slots: if
            # a later loss is not finite, the one before it is saved. No host copy, no waiting.
            slot = step % 2
            backend.checkpoint(slot)
            backend.synchronize()  # an asynchronous engine would otherwise bill queued work to this step
            start = time.perf_counter()
            terms = backend.step()  # reading the four losses waits for the step: logging needs them
            if config.bounded:
                backend.clip_image()
            backend.synchronize()
            seconds = time.perf_counter() - start
            if not stepper(terms, lr, seconds, lambda: backend.checkpoint_image(slot),
                           lambda: (step + 1, backend.image(), backend.optimizer_state())):
                break
            last_good = slot
    except StopRequested:
        stepper.interrupted()
        whole = True
    except KeyboardInterrupt:
        stepper.interrupted()
    except (MemoryError, RuntimeError) as exc:  # a failed allocation or an overflowing step; else a bug
        if is_out_of_memory(exc):
            stepper.out_of_memory(exc)
        elif is_overflow(exc):
            stepper.result.diverged = True
            stepper.result.stopped = (f"the update overflowed float32 at step {len(stepper.result.records) + 1} "
                                      f"({one_line(exc)}); saved the image from before it")
        else:
            raise
    if stepper.result.stopped is None or whole:
        image = backend.image()
        if np.all(np.isfinite(image)):
            return image, backend.optimizer_state()
        stepper.result.diverged = True
        stepper.result.stopped = "the image became non-finite; saved the one before"
    return (init if last_good is None else backend.checkpoint_image(last_good)), None


def _picture_loss(backend: StyleBackend, x: np.ndarray) -> Optional[LossTerms[float]]:
    """The losses of the image as it is saved — clipped to [0, 1] — with the last size's targets:
    one extra forward and backward pass, outside every step's timing."""
    terms, _ = backend.evaluate(backend.preprocess(backend.postprocess(x)))
    return terms if terms.finite() else None


def _describe_nonfinite(values: dict[str, float]) -> str:
    bad = [f"{name}={value}" for name, value in values.items() if not math.isfinite(value)]
    return "non-finite (" + ", ".join(bad) + ")"
