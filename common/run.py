"""One run of style transfer as one object: what the loop reports to and asks.

The loop (``transfer.py``) hands every step's losses to :meth:`Run.record`, which keeps the
record, tells the caller (:meth:`Run.on_step`), offers a checkpoint when one is due
(:meth:`Run.on_checkpoint`, the backend asked for the image and Adam's moments only then) and
answers whether the run goes on. How the run ended is one :class:`Ending`, set once. A caller
that wants progress, files or signals subclasses ``Run``; a caller on another thread (a web
page) calls :meth:`Run.request_stop`. A run that resumes starts from a :class:`Checkpoint`.
"""
from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import numpy as np

from .config import Plateau
from .records import Checkpoint, StepRecord
from .terms import AdamMoments, LossTerms

Image = Callable[[], np.ndarray]  # an image in network units, (1, 3, H, W), fetched only when called
Position = Callable[[], tuple[int, np.ndarray, Optional[AdamMoments]]]  # steps done at this size, image, Adam


class Kind(enum.Enum):
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # Ctrl-C, a signal, or request_stop: the state at the stop is whole
    NOT_FINITE = "not finite"  # a loss, the image or a gradient left float32: the image before it is kept
    OUT_OF_MEMORY = "out of memory"  # the image before the failed allocation is kept


class Ending(NamedTuple):
    kind: Kind
    message: str  # one line: what happened and which image was kept


@dataclass
class _Size:
    index: int = 1  # 1-based size index
    height: int = 0
    width: int = 0
    steps: int = 0  # planned at this size


class Run:
    """A run's records, its ending, its picture, and the hooks a caller overrides."""

    def __init__(self, start: Optional[Checkpoint] = None, checkpoint_every: int = 0) -> None:
        self.start = start  # where a resumed run begins; None for a fresh one
        self.checkpoint_every = checkpoint_every  # 0: a checkpoint only at a stop and at the end
        self.records: list[StepRecord] = list(start.records) if start else []
        self.ending: Optional[Ending] = None
        self.picture: Optional[np.ndarray] = None  # (H, W, 3) in [0, 1], as saved
        self.picture_loss: Optional[LossTerms[float]] = None  # the losses of the picture as saved
        self.notes: list[str] = []  # what else happened (L-BFGS-B ending before its budget)
        self.planned = 0  # steps over all sizes
        self.plateau = Plateau()  # the configuration's, set by transfer()
        self.size = _Size()
        self._stop: Optional[str] = None
        self._kept: Optional[Image] = None  # the image of the last recorded step, kept if the run ends now
        self._clock = time.perf_counter() - (start.elapsed if start else 0.0)

    # -- what a caller overrides or calls ------------------------------------------------
    keeps_checkpoints = False  # a subclass that stores checkpoints sets this and on_checkpoint

    def on_step(self, record: StepRecord, picture: Callable[[], np.ndarray]) -> None:
        """After every step; ``picture()`` gives the (H, W, 3) picture the record's losses are of."""

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Every ``checkpoint_every`` steps, at a stop, and at the end (when ``keeps_checkpoints``)."""

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop at the next step boundary; safe to call from any thread."""
        self._stop = reason

    def stop_reason(self) -> Optional[str]:
        """Why the run should stop now, or None (asked after every step)."""
        return self._stop

    # -- what the loop calls -----------------------------------------------------------
    def at(self, index: int, size: tuple[int, int], steps: int = 0) -> None:
        """The steps that follow are at this size, which plans ``steps`` of them."""
        self.size, self._kept = _Size(index, *size, steps), None

    def elapsed(self) -> float:
        return time.perf_counter() - self._clock

    def kept(self) -> Optional[np.ndarray]:
        """The image the last recorded step is of (None before the first step at this size)."""
        return self._kept() if self._kept is not None else None

    def end(self, kind: Kind, message: str) -> None:
        """Set how the run ended; the first ending stands."""
        if self.ending is None:
            self.ending = Ending(kind, message)

    def interrupted(self, reason: str = "") -> None:
        done = len(self.records)
        self.end(Kind.INTERRUPTED, f"interrupted{f' ({reason})' if reason else ''} after {done} of "
                                   f"{self.planned} steps; saved the image from step {done}")

    def record(self, terms: LossTerms[float], lr: Optional[float], seconds: float, image: Image,
               position: Position) -> bool:
        """One step's losses at ``image()``; ``position()`` is where the run stands after the
        step. True: go on; False: this size is done — the run has ended (its ending says why), or,
        with no ending, the loss has stopped improving here (the plateau rule)."""
        if not terms.finite():
            bad = ", ".join(f"{k}={v}" for k, v in terms.as_dict().items() if not math.isfinite(v))
            last = self.records[-1].total if self.records else None
            self.end(Kind.NOT_FINITE, f"the loss became non-finite ({bad}) at step {len(self.records) + 1}; saved the "
                                      f"image from before it (last finite total {last:.6g})" if last is not None else
                                      f"the loss is non-finite ({bad}) at the first step; saved the start image")
            return False
        record = StepRecord(len(self.records) + 1, terms.content, terms.style, terms.tv, terms.total, lr, seconds,
                            self.size.index, self.size.height, self.size.width, self.elapsed())
        self.records.append(record)
        self._kept = image
        self.on_step(record, lambda: self._postprocess(image()))
        flat, reason = self._flat(record), self.stop_reason()
        if self.keeps_checkpoints and (reason or (self.checkpoint_every and record.step % self.checkpoint_every == 0)):
            done, at, moments = position()
            self.on_checkpoint(self.checkpoint(self.size.steps if flat else done, at, moments))  # flat: this size is done
        if reason:
            self.interrupted(reason)
            return False
        return not flat

    def _flat(self, record: StepRecord) -> bool:
        """Whether this size's loss has stopped improving (the plateau rule); noted when it has."""
        window = self.plateau.window
        here = [r.total for r in self.records if r.size_index == record.size_index]
        if not window or len(here) <= window:
            return False
        best_then, best_now = min(here[:-window]), min(here)  # the best: L-BFGS's line search also tries worse
        gain = (best_then - best_now) / best_then if best_then > 0 else 0.0
        if gain >= self.plateau.fraction:
            return False
        self.notes.append(f"size {record.size_index} ({record.height}x{record.width}) done after {len(here)} steps: "
                          f"its loss improved {100 * gain:.3g} % in the last {window} (less than "
                          f"{100 * self.plateau.fraction:g} %)")
        return True

    def checkpoint(self, done: int, image: np.ndarray, moments: Optional[AdamMoments]) -> Checkpoint:
        return Checkpoint(self.size.index, done, image, moments, list(self.records), self.elapsed())

    _postprocess: Callable[[np.ndarray], np.ndarray]  # the backend's, set by transfer()

    # -- what the result says ------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.ending is not None and self.ending.kind is Kind.FINISHED

    @property
    def seconds_per_step(self) -> float:
        """Mean over the steps after the first (the first pays for warm-up and allocation)."""
        times = [r.seconds for r in self.records]
        rest = times[1:] or times
        return float(np.mean(rest)) if rest else float("nan")
