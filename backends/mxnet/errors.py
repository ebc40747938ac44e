"""MXNet's words for a failed allocation, as the neutral errors of ``common.errors``. MXNet
raises them late: its engine is asynchronous, so the error of an operation surfaces at the next
wait (``asnumpy``, ``waitall``), as an MXNetError carrying a C++ stack trace."""
from __future__ import annotations

from typing import Optional

import mxnet as mx

from common.errors import OutOfMemory, one_line

# On the CPU "Failed to allocate CPU Memory"; on a GPU "cudaMalloc retry failed: out of memory"
# (PyTorch: "can't allocate memory", torch.OutOfMemoryError).
_OUT_OF_MEMORY = ("failed to allocate", "out of memory", "cannot allocate memory")


def translate(exc: BaseException) -> Optional[Exception]:
    # MXNet never refuses float32 overflow (PyTorch does): the image becomes inf, and the loop
    # sees a non-finite loss.
    if isinstance(exc, mx.base.MXNetError) and any(words in str(exc).lower() for words in _OUT_OF_MEMORY):
        return OutOfMemory(one_line(exc))
    return None
