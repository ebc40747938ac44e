"""What a run produces and keeps: a record per step, the result, and the state a checkpoint
holds to resume it (NumPy arrays and plain numbers only)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .terms import AdamState, LossTerms


@dataclass(frozen=True)
class StepRecord:
    """One step — an Adam update, or one L-BFGS loss-and-gradient evaluation: the losses at the
    image before it (each already multiplied by its weight), the learning rate the update used
    (None for L-BFGS, whose line search picks its own steps), its wall time, and where the run is."""

    step: int  # 1-based, counted over all sizes
    content: float
    style: float
    tv: float
    total: float
    lr: Optional[float]
    seconds: float
    scale: int = 1  # 1-based
    height: int = 0
    width: int = 0
    elapsed: float = 0.0  # seconds since the run started, targets and resizing included

    def as_dict(self) -> dict[str, Optional[float]]:
        return asdict(self)


@dataclass
class TransferResult:
    image: np.ndarray  # (H, W, 3) RGB in [0, 1], as saved
    records: list[StepRecord] = field(default_factory=list)
    stopped: Optional[str] = None  # None when every step ran; else why the loop stopped early
    diverged: bool = False  # True when it stopped on a NaN or infinite loss
    picture_loss: Optional[LossTerms[float]] = None  # the losses of the picture as saved (clipped to [0, 1])
    out_of_memory: bool = False  # True when a step ran out of memory
    interrupted: bool = False  # True when Ctrl-C, SIGTERM or the caller's should_stop ended it
    notes: list[str] = field(default_factory=list)  # what else happened (L-BFGS-B ending before its budget)

    @property
    def seconds_per_step(self) -> float:
        """Mean over the steps after the first (the first pays for warm-up and allocation)."""
        times = [r.seconds for r in self.records]
        rest = times[1:] or times
        return float(np.mean(rest)) if rest else float("nan")


@dataclass
class Resumable:
    """Where a run stands and all it needs to go on exactly: written to a checkpoint, read to resume.

    Nothing else random is kept because nothing else is random: noise starts and random weights
    are drawn from ``config.seed``, which the checkpoint's configuration holds."""

    scale: int  # 1-based size the run is at
    done: int  # Adam updates (or L-BFGS evaluations) done at that size
    image: np.ndarray  # (1, 3, H, W) in network units, after them
    adam: Optional[AdamState]  # None for L-BFGS, whose state SciPy keeps to itself
    records: list[StepRecord]
    elapsed: float  # seconds of the run so far
