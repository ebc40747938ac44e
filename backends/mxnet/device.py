"""Choosing the MXNet context: ``auto`` takes a GPU when one works, else the CPU.

MXNet's last GPU wheels (mxnet-cu117 and older, 1.9.1) carry kernels for compute
capability up to 8.6 and no PTX, so on Hopper GPUs (H100, H200) every kernel fails: the
probe below runs a real operation so that ``auto`` falls back to the CPU and ``gpu``
explains why, instead of failing deep inside the first convolution.
"""
from __future__ import annotations

import mxnet as mx

from common.errors import BackendUnavailable
from common.interface import GpuStatus


def gpu_status() -> GpuStatus:
    try:
        count = mx.context.num_gpus()
    except mx.base.MXNetError as exc:
        return GpuStatus(False, f"mx.context.num_gpus() failed: {str(exc).splitlines()[0]}")
    if count == 0:
        return GpuStatus(False, "MXNet sees no GPU (a CPU build of mxnet, or no CUDA GPU)")
    try:
        (mx.nd.ones((1,), ctx=mx.gpu(0)) + 1).asnumpy()  # asnumpy() waits, so a kernel failure surfaces here
    except mx.base.MXNetError as exc:
        return GpuStatus(False, "a GPU is present but MXNet's kernels fail on it (MXNet 1.9.1 wheels have "
                                f"no code for GPUs newer than compute capability 8.6): {str(exc).splitlines()[0]}")
    return GpuStatus(True, f"gpu(0), {count} visible")


def resolve_device(request: str) -> mx.Context:
    if request == "cpu":
        return mx.cpu()
    if request not in ("gpu", "auto"):
        raise BackendUnavailable(f"unknown device {request!r}: use auto, cpu or gpu")
    status = gpu_status()
    if request == "gpu" and not status.usable:
        raise BackendUnavailable(f"--device gpu: MXNet cannot use a GPU here: {status.detail}")
    return mx.gpu(0) if status.usable else mx.cpu()


def describe(ctx: mx.Context) -> str:
    return "cpu" if ctx.device_type == "cpu" else str(ctx)


def synchronize() -> None:
    # MXNet's engine is asynchronous on every device: calls return before the work is done.
    mx.nd.waitall()
