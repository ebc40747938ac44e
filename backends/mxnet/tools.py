"""What the tooling asks of MXNet besides the computation: the GPU probe, free device memory, the
settings for reports, pretrained weights, ``.params`` files, the chapter's image reader.
Mirrors ``backends/torch/tools.py`` function for function; the registry hands this module out
(``common.registry.framework_tools("mxnet")``)."""
from __future__ import annotations

from typing import Optional

import mxnet as mx


def free_gpu_memory_gib() -> Optional[float]:
    """GiB free on the GPU a backend would use (gpu(0)), asked before anything is built; None
    without a GPU or when MXNet cannot say."""
    # MXNet's one memory query: free and total bytes of the device (PyTorch: torch.cuda.mem_get_info).
    if mx.context.num_gpus() == 0:
        return None
    try:
        free, _total = mx.context.gpu_memory_info(0)
    except mx.MXNetError:
        return None
    return free / 2**30
