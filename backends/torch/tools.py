"""What the tooling asks of PyTorch besides the computation: the GPU probe, free and peak device
memory, the settings for reports, pretrained weights, ``.pth`` files, the chapter's image reader.
Mirrors ``backends/mxnet/tools.py`` function for function; the registry hands this module out
(``common.registry.framework_tools("torch")``)."""
from __future__ import annotations

from typing import Optional

import torch


def free_gpu_memory_gib() -> Optional[float]:
    """GiB free on the GPU a backend would use (device 0), asked before anything is built; None
    without a CUDA GPU or when the driver cannot say."""
    if not torch.cuda.is_available():
        return None
    try:
        free, _total = torch.cuda.mem_get_info(0)  # the whole device's free bytes, as the driver counts them
    except RuntimeError:
        return None
    return free / 2**30
