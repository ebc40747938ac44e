"""Choosing the PyTorch device: ``auto`` takes a CUDA GPU when one works, else the CPU."""
from __future__ import annotations

import torch

from common.errors import BackendUnavailable
from common.interface import GpuStatus


def gpu_status() -> GpuStatus:
    if not torch.cuda.is_available():
        return GpuStatus(False, "torch.cuda.is_available() is False (no CUDA GPU, or a CPU build of torch)")
    try:
        torch.ones(1, device="cuda").add_(1).cpu()  # a real kernel: fails on a GPU this build has no code for
    except RuntimeError as exc:
        return GpuStatus(False, f"CUDA is present but a kernel failed: {str(exc).splitlines()[0]}")
    return GpuStatus(True, torch.cuda.get_device_name(0))


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
