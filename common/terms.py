"""The values that travel between the training loop and a backend: the weighted loss
terms of one step, and the fixed targets."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, Iterator, Mapping, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class LossTerms(Generic[T]):
    """The three weighted terms and their sum: framework scalars inside a backend,
    floats once they cross the interface."""

    content: T
    style: T
    tv: T
    total: T

    def __iter__(self) -> Iterator[T]:
        return iter((self.content, self.style, self.tv, self.total))

    def finite(self) -> bool:
        return all(math.isfinite(float(v)) for v in self)

    def as_dict(self) -> dict[str, T]:
        return {"content": self.content, "style": self.style, "tv": self.tv, "total": self.total}


@dataclass(frozen=True)
class Targets:
    """What the synthesized image is pulled towards, computed once before training:
    content features and Gram matrices of style features, keyed by layer index."""

    content: Mapping[int, np.ndarray]
    grams: Mapping[int, np.ndarray]

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.content) | set(self.grams)))


@dataclass(frozen=True)
class AdamMoments:
    """Adam's moments for one image in neutral form: the update count t and the moving averages of
    the gradient (m) and of its square (v), both (1, 3, H, W). MXNet and PyTorch keep the same
    three quantities (MXNet's "mean"/"var", PyTorch's "exp_avg"/"exp_avg_sq"), so a state taken
    from one framework means the same in the other."""

    step: int
    m: np.ndarray
    v: np.ndarray
