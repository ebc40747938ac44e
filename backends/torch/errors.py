"""PyTorch's words for a failed allocation and a refused float32 overflow, as the neutral errors
of ``common.errors``."""
from __future__ import annotations

from typing import Optional

import torch

from common.errors import OutOfMemory, Overflow, one_line


def translate(exc: BaseException) -> Optional[Exception]:
    # A CUDA allocation raises torch.OutOfMemoryError; the CPU allocator a RuntimeError that says
    # "DefaultCPUAllocator: can't allocate memory" (MXNet: "Failed to allocate CPU Memory").
    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in text:
        return OutOfMemory(one_line(exc))
    # A step size beyond float32's range: "value cannot be converted to type float without
    # overflow" (MXNet computes on, and the image becomes inf).
    if isinstance(exc, RuntimeError) and "without overflow" in text:
        return Overflow(one_line(exc))
    return None
