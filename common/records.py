"""What a run keeps: a record per step, and the checkpoint that resumes it (NumPy arrays and
plain numbers only, so that a checkpoint reads the same in either framework)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from .terms import AdamMoments


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
    size_index: int = 1  # 1-based: which of the coarse-to-fine sizes
    height: int = 0
    width: int = 0
    elapsed: float = 0.0  # seconds since the run started, targets and resizing included

    def as_dict(self) -> dict[str, Optional[float]]:
        return asdict(self)


@dataclass
class Checkpoint:
    """Where a run stands and all it needs to go on exactly: written to a file, read to resume.

    Nothing else random is kept because nothing else is random: noise starts and random weights
    are drawn from ``config.seed``, which the checkpoint's configuration holds."""

    size_index: int  # 1-based size the run is at
    done: int  # Adam updates (or L-BFGS evaluations) done at that size
    image: np.ndarray  # (1, 3, H, W) in network units, after them
    moments: Optional[AdamMoments]  # None for L-BFGS, whose state SciPy keeps to itself
    records: list[StepRecord]
    elapsed: float  # seconds of the run so far
