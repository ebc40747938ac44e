"""The one copy of the training algorithm: targets, learning-rate schedule, loop, NaN guard.

Every backend runs exactly this loop; it only calls the interface.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from .config import TransferConfig
from .interface import StyleBackend, Targets


@dataclass(frozen=True)
class StepRecord:
    """One training step: the losses at the image before its update (each already
    multiplied by its weight), the learning rate that update used, its wall time."""

    step: int  # 1-based
    content: float
    style: float
    tv: float
    total: float
    lr: float
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TransferResult:
    image: np.ndarray  # (H, W, 3) RGB in [0, 1]
    records: list[StepRecord] = field(default_factory=list)
    stopped: Optional[str] = None  # None when every step ran; else why the loop stopped early
    diverged: bool = False  # True when it stopped on a NaN or infinite loss

    @property
    def seconds_per_step(self) -> float:
        """Mean over the steps after the first (the first pays for warm-up and allocation)."""
        times = [r.seconds for r in self.records]
        rest = times[1:] or times
        return float(np.mean(rest)) if rest else float("nan")


StepCallback = Callable[[StepRecord, Callable[[], np.ndarray]], None]


def compute_targets(backend: StyleBackend, content: np.ndarray, style: np.ndarray,
                    config: TransferConfig) -> tuple[np.ndarray, Targets]:
    """Preprocess both images once; content features and style Gram matrices are fixed targets."""
    content_x = backend.preprocess(content)
    style_x = backend.preprocess(style)
    content_features = backend.extract_features(content_x, config.content_layers)
    style_features = backend.extract_features(style_x, config.style_layers)
    targets = Targets(
        content=dict(zip(config.content_layers, content_features)),
        grams={i: backend.gram(y) for i, y in zip(config.style_layers, style_features)},
    )
    return content_x, targets


def transfer(backend: StyleBackend, content: np.ndarray, style: np.ndarray, config: TransferConfig,
             on_step: StepCallback | None = None) -> TransferResult:
    """Optimise the synthesized image, starting from the content image.

    ``on_step(record, current_image)`` runs after each step; ``current_image()`` returns the
    updated image as (H, W, 3) when the caller wants it (to save every N steps, say).
    A NaN or infinite loss stops the loop and returns the last image whose loss was finite;
    Ctrl-C does the same.
    """
    init, targets = compute_targets(backend, content, style, config)
    schedule = config.schedule
    lr = schedule.lr_at(0)
    backend.start(init, targets, config.weights, config.adam, lr)
    result = TransferResult(image=np.empty(0))
    last_good: int | None = None  # checkpoint slot of the last image whose loss was finite

    def current() -> np.ndarray:
        return backend.postprocess(backend.image())

    try:
        for step in range(schedule.steps):
            if schedule.lr_at(step) != lr:
                lr = schedule.lr_at(step)
                backend.set_learning_rate(lr)
            # A device-side copy of the image this step starts from, in two alternating slots: if
            # a later loss is not finite, the one before it is saved. No host copy, no waiting.
            backend.checkpoint(step % 2)
            backend.synchronize()  # an asynchronous engine would otherwise bill queued work to this step
            start = time.perf_counter()
            terms = backend.step()  # reading the four losses waits for the step: logging needs them
            backend.synchronize()
            seconds = time.perf_counter() - start
            if not terms.finite():
                result.stopped = (f"the loss became {_describe_nonfinite(terms.as_dict())} at step {step + 1}; "
                                  f"saved the image from before it (last finite total "
                                  f"{result.records[-1].total:.6g})" if result.records else
                                  f"the loss is {_describe_nonfinite(terms.as_dict())} at the first step; saved the content image")
                result.diverged = True
                break
            last_good = step % 2
            record = StepRecord(step + 1, terms.content, terms.style, terms.tv, terms.total, lr, seconds)
            result.records.append(record)
            if on_step is not None:
                on_step(record, current)
    except KeyboardInterrupt:
        done = len(result.records)
        result.stopped = f"interrupted after {done} of {schedule.steps} steps; saved the image from step {done}"
    saved = init if last_good is None else backend.checkpoint_image(last_good)
    final = backend.image() if result.stopped is None else saved
    if not np.all(np.isfinite(final)):
        final = saved
    result.image = backend.postprocess(final)
    return result


def _describe_nonfinite(values: dict[str, float]) -> str:
    bad = [f"{name}={value}" for name, value in values.items() if not np.isfinite(value)]
    return "non-finite (" + ", ".join(bad) + ")"
