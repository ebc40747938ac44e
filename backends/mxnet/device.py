"""Choosing the MXNet context (``auto`` takes a GPU when one works, else the CPU; see
``tools.gpu_status`` for why MXNet's kernels fail on Hopper GPUs), waiting for it, and the
per-thread NumPy semantics a backend runs with."""
from __future__ import annotations

import mxnet as mx
from mxnet import npx

from common.errors import BackendUnavailable

from .tools import gpu_status


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
    npx.waitall()


def numpy_semantics() -> None:
    """Turn on MXNet's NumPy semantics, as the chapter's ``npx.set_np()`` does, in this thread:
    MXNet keeps the flag per thread (a thread started later, a Ray worker's, starts without it),
    so the backend asks before it works. Other MXNet code in the thread sees np arrays from Gluon
    from then on; PyTorch is not touched."""
    if not (mx.util.is_np_array() and mx.util.is_np_shape()):
        npx.set_np()
