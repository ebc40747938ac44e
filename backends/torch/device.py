"""Choosing the PyTorch device: ``auto`` takes a CUDA GPU when one works, else the CPU."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch

from common.errors import BackendUnavailable
from common.interface import GpuStatus
from backends.threads import thread_count


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


def memory_peak_gib(device: torch.device) -> float | None:
    # The CUDA caching allocator counts its peak; on the CPU the process's resident set does.
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_memory_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


@dataclass(frozen=True)
class ProcessSettings:
    """The process-wide PyTorch settings one backend runs with, applied each time it starts work
    (see TorchBackend), so that another backend built later in the same process (compare.py,
    bench.py build several) cannot change them: torch.set_num_threads and cudnn.benchmark hold
    for the whole process, not for one model.

    PyTorch and MXNet load the same OpenMP runtime (libgomp.so.1), and importing MXNet first
    left PyTorch on one thread: 0.53 s/step instead of 0.28 at 150x225 here."""
    threads: int
    # None on the CPU: cuDNN is not used there, and the flag stays as whoever set it left it.
    cudnn_benchmark: Optional[bool]

    def apply(self) -> None:
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        if self.cudnn_benchmark is not None and torch.backends.cudnn.benchmark != self.cudnn_benchmark:
            torch.backends.cudnn.benchmark = self.cudnn_benchmark


def process_settings(device: torch.device, optimized: bool) -> ProcessSettings:
    """Every core unless OMP_NUM_THREADS says otherwise; on a GPU, the optimized execution lets
    cuDNN pick the fastest convolution algorithm by timing them once per shape."""
    return ProcessSettings(thread_count(), optimized if device.type == "cuda" else None)


def environment(device: torch.device) -> dict[str, str]:
    """The settings that change PyTorch's numbers or speed, for reports."""
    import torchvision

    env = {
        "framework": f"torch {torch.__version__}, torchvision {torchvision.__version__}",
        "device": describe(device),
        "threads": str(torch.get_num_threads()),
        "oneDNN (CPU convolutions)": f"{'on' if torch.backends.mkldnn.is_available() else 'off'}"
                                     f" ({_onednn_version()})",
        "CPU capability": torch.backends.cpu.get_cpu_capability(),
    }
    if device.type == "cuda":
        env.update({
            "cuDNN": str(torch.backends.cudnn.version()),
            "TF32 in convolutions (cudnn.allow_tf32)": str(torch.backends.cudnn.allow_tf32),
            "TF32 in matmul (cuda.matmul.allow_tf32)": str(torch.backends.cuda.matmul.allow_tf32),
            "cudnn.benchmark": str(torch.backends.cudnn.benchmark),
            "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE", "unset"),
        })
    return env


def _onednn_version() -> str:
    for line in torch.__config__.show().splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            return line.strip(" -").replace("Intel(R) MKL-DNN", "oneDNN").split(" (Git")[0]
    return "version unknown"
