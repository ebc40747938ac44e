"""How a backend runs the algorithm — precision, frozen weights, the framework's speed-ups,
compilation — as apart from what it computes (``config.py``)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

PRECISIONS = ("fp32", "bf16")  # the command line offers exactly these; validate() refuses any other


@dataclass(frozen=True)
class Execution:
    """How a backend runs the algorithm: never what it computes, beyond bf16's rounding.

    ``unoptimized()`` is how the chapter's code runs, kept so that speed-ups are measured side by
    side: trainable VGG weights (their gradients computed and thrown away), a plain layer loop,
    no framework speed-ups."""

    precision: str = "fp32"  # "bf16": the feature network under bf16 autocast; losses and Gram in fp32
    frozen: bool = True  # no weight gradients (grad_req='null' / requires_grad_(False))
    optimized: bool = True  # MXNet: one hybridized block, static allocation; PyTorch: channels_last where it pays
    compile: bool = False  # PyTorch only: torch.compile the feature network (compile time reported apart)

    @classmethod
    def unoptimized(cls) -> "Execution":
        return cls(frozen=False, optimized=False)

    def validate(self) -> "Execution":
        if self.precision not in PRECISIONS:
            raise ConfigError("precision", f"must be one of {', '.join(PRECISIONS)}, not {self.precision}")
        return self
