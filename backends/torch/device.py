"""Choosing the PyTorch device (``auto`` takes a CUDA GPU when one works, else the CPU), waiting
for it, and the process-wide settings a backend runs with."""
from __future__ import annotations

import torch

from common.errors import BackendUnavailable
from backends.threads import thread_count

from .tools import gpu_status


def resolve_device(request: str) -> torch.device:
    if request == "cpu":
        return torch.device("cpu")
    status = gpu_status()
    if request == "gpu" and not status.usable:
        raise BackendUnavailable(f"--device gpu: PyTorch cannot use a GPU here: {status.detail}")
    if request not in ("gpu", "auto"):
        raise BackendUnavailable(f"unknown device {request!r}: use auto, cpu or gpu")
    return torch.device("cuda:0" if status.usable else "cpu")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def synchronize(device: torch.device) -> None:
    # PyTorch on the CPU is eager and synchronous; CUDA kernels are queued on a stream.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def apply_process_settings(device: torch.device, optimized: bool) -> None:
    """Set PyTorch's process-wide settings for a backend on ``device``: every core unless
    OMP_NUM_THREADS says otherwise (torch.set_num_threads), and on a GPU, for the optimized
    execution, cudnn.benchmark, which lets cuDNN pick the fastest convolution algorithm by timing
    them once per shape (on the CPU cuDNN is not used, and the flag stays as whoever set it left
    it). Both hold for the whole process, not for one model (MXNet's threads are fixed when it
    loads, see backends/mxnet/__init__.py).

    PyTorch and MXNet load the same OpenMP runtime (libgomp.so.1), and importing MXNet first
    left PyTorch on one thread (0.53 s/step instead of 0.28 at 150x225 here): setting the count
    when the backend is made, after any MXNet import, is what keeps it."""
    threads = thread_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if device.type == "cuda" and torch.backends.cudnn.benchmark != optimized:
        torch.backends.cudnn.benchmark = optimized
