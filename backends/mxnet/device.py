"""Choosing the MXNet context: ``auto`` takes a GPU when one works, else the CPU.

MXNet's last GPU wheels (mxnet-cu117 and older, 1.9.1) carry kernels for compute
capability up to 8.6 and no PTX, so on Hopper GPUs (H100, H200) every kernel fails: the
probe below runs a real operation so that ``auto`` falls back to the CPU and ``gpu``
explains why, instead of failing deep inside the first convolution.
"""
from __future__ import annotations

import ctypes
import os

import mxnet as mx
from mxnet import np, npx

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
        (np.ones((1,), ctx=mx.gpu(0)) + 1).asnumpy()  # asnumpy() waits, so a kernel failure surfaces here
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
    npx.waitall()


def numpy_semantics() -> None:
    """Turn on MXNet's NumPy semantics, as the chapter's ``npx.set_np()`` does, in this thread:
    MXNet keeps the flag per thread (a thread started later, a Ray worker's, starts without it),
    so the backend asks before it works. Other MXNet code in the thread sees np arrays from Gluon
    from then on; PyTorch is not touched."""
    if not (mx.util.is_np_array() and mx.util.is_np_shape()):
        npx.set_np()


class _Context(ctypes.Structure):
    _fields_ = [("dev_type", ctypes.c_int), ("dev_id", ctypes.c_int)]  # mxnet::Context; kCPU = 1


_SYNC_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)  # EngineSyncFunc(rctx, param)


def engine_threads() -> int | None:
    """The OpenMP threads MXNet's CPU operators run with, asked on the engine's own CPU worker
    thread, where they run: MXNet has no getter (PyTorch has torch.get_num_threads), the
    environment variable only says what was asked for, and the OpenMP count is per thread, so
    the Python thread's count is whatever torch.set_num_threads last made it. None if the
    OpenMP runtime is not libgomp (macOS, Windows builds)."""
    try:
        omp_get_max_threads = ctypes.CDLL("libgomp.so.1").omp_get_max_threads
    except (OSError, AttributeError):
        return None
    seen: list[int] = []
    ask = _SYNC_FUNC(lambda rctx, param: seen.append(omp_get_max_threads()))  # kept alive until waitall
    context = _Context(1, 0)
    mx.base.check_call(mx.base._LIB.MXEnginePushSync(ask, None, None, ctypes.byref(context), None, 0, None, 0,
                                                     None, 0, None))
    npx.waitall()
    return seen[0] if seen else None


def environment(ctx: mx.Context) -> dict[str, str]:
    """The settings that change MXNet's numbers or speed, for reports."""
    features = mx.runtime.Features()
    env = {
        "framework": f"mxnet {mx.__version__}",
        "device": describe(ctx),
        "oneDNN (CPU convolutions)": ("on" if features.is_enabled("MKLDNN") and
                                      os.environ.get("MXNET_MKLDNN_ENABLED", "1") != "0" else "off")
                                    ,
        "threads": str(engine_threads() or os.environ.get("OMP_NUM_THREADS", "unknown")),
        "engine": os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice (asynchronous)"),
        "built with CUDA": str(features.is_enabled("CUDA")),
    }
    if ctx.device_type == "gpu":
        env.update({
            "cuDNN autotune (MXNET_CUDNN_AUTOTUNE_DEFAULT)": os.environ.get("MXNET_CUDNN_AUTOTUNE_DEFAULT", "1"),
            "NVIDIA_TF32_OVERRIDE (TF32 in cuDNN convolutions on Ampere+)": os.environ.get("NVIDIA_TF32_OVERRIDE", "unset: TF32 allowed"),
        })
    return env
