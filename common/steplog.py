"""The step log every optimizer reports to, one call per step: it keeps the step's record, tells
the caller, hands out the run's state when asked to, and answers whether the run goes on.

Adam and L-BFGS are peers over it (``adam.py``, ``lbfgs.py``): both log, stop, keep state and
report alike, and neither knows what the caller does with a record or why a stop was asked for
(the command line asks after Ctrl-C or SIGTERM; a Ray worker never does)."""
from __future__ import annotations

import contextlib
import enum
import math
import time
from typing import Callable, Iterator, Optional

import numpy as np

from .errors import Overflow, one_line
from .records import Resumable, StepRecord, TransferResult
from .terms import AdamState, LossTerms

StepCallback = Callable[[StepRecord, Callable[[], np.ndarray]], None]  # the record, and the image it is of
StopQuestion = Callable[[], Optional[str]]  # why the run should stop now ("SIGTERM"), or None
StateCallback = Callable[[Resumable], None]  # the run's whole state, to resume from
Position = Callable[[], tuple[int, np.ndarray, Optional[AdamState]]]  # steps done at this size, image, Adam


class Next(enum.Enum):
    """What an optimizer does after a step."""
    GO = "go"  # the next step
    STOP = "stop"  # a stop was asked for: the state after this step is whole; keep it
    DIVERGED = "diverged"  # the loss is not finite: keep the image from before this step


class StepLog:
    def __init__(self, result: TransferResult, planned: int, clock: float,
                 postprocess: Callable[[np.ndarray], np.ndarray], on_step: Optional[StepCallback] = None,
                 should_stop: Optional[StopQuestion] = None, on_state: Optional[StateCallback] = None,
                 state_every: int = 0) -> None:
        self.result, self.planned, self.clock, self.postprocess = result, planned, clock, postprocess
        self.on_step, self.should_stop, self.on_state, self.state_every = on_step, should_stop, on_state, state_every
        self.scale, self.size = 1, (0, 0)

    def begin(self, scale: int, size: tuple[int, int]) -> None:
        """The steps that follow are at this (1-based) size."""
        self.scale, self.size = scale, size

    def elapsed(self) -> float:
        return time.perf_counter() - self.clock

    def state(self, done: int, image: np.ndarray, adam: Optional[AdamState]) -> Resumable:
        return Resumable(self.scale, done, image, adam, list(self.result.records), self.elapsed())

    def record(self, terms: LossTerms[float], lr: Optional[float], seconds: float,
               current: Callable[[], np.ndarray], position: Position) -> Next:
        """One step's losses (of the image ``current()`` gives, in network units); ``position()`` is
        where the run stands after the step."""
        records = self.result.records
        if not terms.finite():
            bad = ", ".join(f"{k}={v}" for k, v in terms.as_dict().items() if not math.isfinite(v))
            self.result.diverged = True
            self.result.stopped = (f"the loss became non-finite ({bad}) at step {len(records) + 1}; saved the image "
                                   f"from before it (last finite total {records[-1].total:.6g})" if records else
                                   f"the loss is non-finite ({bad}) at the first step; saved the start image")
            return Next.DIVERGED
        record = StepRecord(len(records) + 1, terms.content, terms.style, terms.tv, terms.total, lr, seconds,
                            self.scale, *self.size, self.elapsed())
        records.append(record)
        if self.on_step is not None:
            self.on_step(record, lambda: self.postprocess(current()))
        reason = self.should_stop() if self.should_stop is not None else None
        if self.on_state is not None and (reason or (self.state_every and record.step % self.state_every == 0)):
            self.on_state(self.state(*position()))
        if reason:
            self.interrupted(reason)
            return Next.STOP
        return Next.GO

    @contextlib.contextmanager
    def ending_early(self) -> Iterator[None]:
        """An optimizer's steps: Ctrl-C (a second one, or Python's own handler), a failed allocation
        or a refused overflow ends them at once, said in the result; the optimizer then keeps its
        last good image."""
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted()
        except MemoryError as exc:
            self.out_of_memory(exc)
        except Overflow as exc:
            self.overflowed(exc)

    def interrupted(self, reason: str = "") -> None:
        done = len(self.result.records)
        self.result.interrupted = True
        self.result.stopped = (f"interrupted{f' ({reason})' if reason else ''} after {done} of {self.planned} steps; "
                               f"saved the image from step {done}")

    def out_of_memory(self, exc: BaseException) -> None:
        self.result.out_of_memory = True
        self.result.stopped = (f"out of memory at step {len(self.result.records) + 1} ({one_line(exc)}); "
                               f"saved the image from before it")

    def note(self, text: str) -> None:
        """Something the caller should hear that ends nothing early by mistake (L-BFGS converged)."""
        self.result.notes.append(text)

    def gradient_overflowed(self) -> None:
        self.result.diverged = True
        self.result.stopped = (f"the gradient overflowed float32 at step {len(self.result.records)} (a loss weight "
                               f"too large?); saved the best image so far")

    def overflowed(self, exc: BaseException) -> None:
        self.result.diverged = True
        self.result.stopped = (f"the update overflowed float32 at step {len(self.result.records) + 1} "
                               f"({one_line(exc)}); saved the image from before it")
