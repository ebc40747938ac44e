"""What the tooling asks of PyTorch besides the computation: whether a GPU works, free and peak
device memory, the settings for reports, torchvision's pretrained VGGs, ``.pth`` files, and the
chapter's image reader. Mirrors ``backends/mxnet/tools.py`` function for function (same names,
same arguments); the tooling gets it from ``common.registry.framework_tools("torch")``, never by
this module's name. Nothing here is part of the ``StyleBackend`` contract."""
from __future__ import annotations

import contextlib
import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from common.errors import WeightsError, short_reason, shown
from common.interface import GpuStatus, StyleBackend
from common.weights import features_key, state_dict_of


# -- the device ------------------------------------------------------------------------
def gpu_status() -> GpuStatus:
    """Whether PyTorch can run on a GPU here, tried for real (``resolve_device("auto")`` asks it too)."""
    if not torch.cuda.is_available():
        return GpuStatus(False, "torch.cuda.is_available() is False (no CUDA GPU, or a CPU build of torch)")
    try:
        torch.ones(1, device="cuda").add_(1).cpu()  # a real kernel: fails on a GPU this build has no code for
    except RuntimeError as exc:
        return GpuStatus(False, f"CUDA is present but a kernel failed: {str(exc).splitlines()[0]}")
    return GpuStatus(True, torch.cuda.get_device_name(0))


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


def memory_peak_gib(backend: StyleBackend) -> Optional[float]:
    """GiB the device allocator held at most since ``reset_memory_peak(backend)``; None on the CPU,
    where the process's resident set is the measure."""
    # The CUDA caching allocator counts its peak (MXNet 1.9 has no such counter).
    device = backend._device
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_memory_peak(backend: StyleBackend) -> None:
    """Start a new peak for ``memory_peak_gib``."""
    if backend._device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(backend._device)


def environment(backend: StyleBackend) -> dict[str, str]:
    """Versions and the settings that change PyTorch's numbers or speed, for reports. Threads and
    cudnn.benchmark are the process's now: the last PyTorch backend built set them (device.py)."""
    device = backend._device
    env = {
        "framework": f"torch {torch.__version__}, torchvision {_torchvision_version()}",
        "device": backend.device,
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


def _torchvision_version() -> str:
    # Read from the installed metadata: importing torchvision costs about a second (its ops import
    # torch._dynamo), and only the pretrained download and the chapter's image reader need it.
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("torchvision")
    except PackageNotFoundError:
        return "not installed"


def _onednn_version() -> str:
    for line in torch.__config__.show().splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            return line.strip(" -").replace("Intel(R) MKL-DNN", "oneDNN").split(" (Git")[0]
    return "version unknown"


# -- weights: torchvision's ImageNet VGG-19 and VGG-16 (IMAGENET1K_V1), .pth state dicts ------
def _features_only(state: dict) -> dict[str, np.ndarray]:
    """The ``features.N.*`` arrays of a whole VGG's state dict, or of ``vgg19().features`` saved
    alone (keys ``N.weight``, ``N.bias``)."""
    out = {}
    for key, value in state.items():
        neutral = features_key(key) if isinstance(key, str) else None
        if neutral is not None and isinstance(value, torch.Tensor):
            out[neutral] = value.detach().to(torch.float32).cpu().numpy()
    return out


def fetch_pretrained(source: str, folder: Path, network: str) -> dict[str, np.ndarray]:
    """``network`` ("vgg19", "vgg16") as neutral arrays, downloaded through torchvision's loader
    (into torch hub's own cache, hash checked, not ``folder``, which the Gluon zoo uses);
    torchvision's only VGG weights are ``imagenet``, IMAGENET1K_V1."""
    import torchvision  # here, not at the top: a run from a weights file never pays its second of imports
    weights = {"vgg19": torchvision.models.VGG19_Weights, "vgg16": torchvision.models.VGG16_Weights}[network]
    weights = weights.IMAGENET1K_V1
    title = {"vgg19": "VGG-19", "vgg16": "VGG-16"}[network]
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torch.hub announces downloads on stdout
            state = weights.get_state_dict(progress=True)
    except Exception as exc:  # URLError, HTTP errors, a truncated file: all mean "no weights"
        raise WeightsError(
            f"cannot download torchvision's {title} weights from {weights.url} ({short_reason(exc)}); "
            f"download that file once and pass --weights {weights.url.rsplit('/', 1)[-1]}, or a Keras "
            f".h5 VGG file, or use --weights random for a smoke run") from None
    return _features_only(state)


def read_weights_file(path: Path) -> dict[str, np.ndarray]:
    """A ``state_dict`` saved by torch.save (``.pth``, ``.pt``), loaded without running any pickled
    code: VGG-16's or VGG-19's convolutions as neutral arrays. (The tooling has checked what the
    file declares, without torch, before it calls this.)"""
    try:
        with warnings.catch_warnings():  # a refusal below says it in one line; torch's own warning would add two
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's message advises weights_only=False, which would run whatever the file holds: not repeated.
        raise WeightsError(f"cannot read weights file {shown(path)}: it holds Python objects beyond tensors, and "
                           f"such a file is not loaded: save only the state_dict of tensors") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{shown(path)} holds a {type(state).__name__}, not a state_dict")
    return _features_only(state_dict_of(state))


# -- the chapter's PyTorch tab ------------------------------------------------------------
def chapter_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The image as the chapter's PyTorch tab reads and resizes it, for ``scripts/compare.py
    --recipe d2l``: PIL decode, then ``torchvision.transforms.Resize((h, w))`` on the PIL image —
    Pillow's bilinear filter with antialiasing, height first (the same pixels as
    ``common/images.py``, which a test shows); (H, W, 3) in [0, 1]."""
    import torchvision  # as in fetch_pretrained: only this tool needs it
    with Image.open(path) as img:
        img = torchvision.transforms.Resize(size)(img.convert("RGB"))
        return np.asarray(img, dtype=np.float32) / 255.0
