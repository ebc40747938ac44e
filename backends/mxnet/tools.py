"""What the tooling asks of MXNet besides the computation: whether a GPU works, free and peak
device memory, the settings for reports, the Gluon model zoo's pretrained VGGs, ``.params``
files, and the chapter's image reader. Mirrors ``backends/torch/tools.py`` function for function
(same names, same arguments); the tooling gets it from ``common.registry.framework_tools("mxnet")``,
never by this module's name. Nothing here is part of the ``StyleBackend`` contract.

MXNet's last GPU wheels (mxnet-cu117 and older, 1.9.1) carry kernels for compute
capability up to 8.6 and no PTX, so on Hopper GPUs (H100, H200) every kernel fails: the
probe in ``gpu_status`` runs a real operation so that ``auto`` falls back to the CPU and ``gpu``
explains why, instead of failing deep inside the first convolution.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import mxnet as mx
import numpy as onp
from mxnet import gluon, np, npx
from mxnet.gluon.model_zoo import vision

from common.errors import WeightsError, short_reason, shown
from common.interface import GpuStatus, StyleBackend
from common.weights import keyed, named_convs


# -- the device ------------------------------------------------------------------------
def gpu_status() -> GpuStatus:
    """Whether MXNet can run on a GPU here, tried for real (``resolve_device("auto")`` asks it too)."""
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


def memory_peak_gib(backend: StyleBackend) -> Optional[float]:
    """Always None: MXNet 1.9 reports free and total GPU memory (mx.context.gpu_memory_info), not
    its allocator's peak as torch.cuda does; the process's resident set is the measure."""
    return None


def reset_memory_peak(backend: StyleBackend) -> None:
    """Nothing to reset: MXNet counts no peak (see ``memory_peak_gib``)."""


class _Context(ctypes.Structure):
    _fields_ = [("dev_type", ctypes.c_int), ("dev_id", ctypes.c_int)]  # mxnet::Context; kCPU = 1


_SYNC_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)  # EngineSyncFunc(rctx, param)


def _engine_threads() -> int | None:
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


def environment(backend: StyleBackend) -> dict[str, str]:
    """Versions and the settings that change MXNet's numbers or speed, for reports (all fixed
    when MXNet loads: nothing a backend built later changes, unlike PyTorch's threads)."""
    features = mx.runtime.Features()
    env = {
        "framework": f"mxnet {mx.__version__}",
        "device": backend.device,
        "oneDNN (CPU convolutions)": ("on" if features.is_enabled("MKLDNN") and
                                      os.environ.get("MXNET_MKLDNN_ENABLED", "1") != "0" else "off"),
        "threads": str(_engine_threads() or os.environ.get("OMP_NUM_THREADS", "unknown")),
        "engine": os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice (asynchronous)"),
        "built with CUDA": str(features.is_enabled("CUDA")),
    }
    if backend._ctx.device_type == "gpu":
        env.update({
            "cuDNN autotune (MXNET_CUDNN_AUTOTUNE_DEFAULT)": os.environ.get("MXNET_CUDNN_AUTOTUNE_DEFAULT", "1"),
            "NVIDIA_TF32_OVERRIDE (TF32 in cuDNN convolutions on Ampere+)": os.environ.get("NVIDIA_TF32_OVERRIDE", "unset: TF32 allowed"),
        })
    return env


# -- weights: the Gluon model zoo's own VGG-19 and VGG-16, Gluon .params files ----------------
# The zoo's are other networks than torchvision's (trained separately): same shapes, other numbers.
def fetch_pretrained(source: str, folder: Path, network: str) -> dict[str, onp.ndarray]:
    """``network`` ("vgg19", "vgg16") as neutral arrays keyed by torchvision names, downloaded
    through the Gluon model zoo into ``folder`` (its own VGGs, the only ones it offers: ``gluon``)."""
    root = folder / "mxnet-model-zoo"
    said = io.StringIO()
    try:
        # MXNet's downloader prints its progress and each retry on stdout: kept back, and shown
        # (on stderr, stdout is for results here) only when the download worked.
        with contextlib.redirect_stdout(said), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = {"vgg19": vision.vgg19, "vgg16": vision.vgg16}[network](pretrained=True, root=str(root))
        sys.stderr.write(said.getvalue())
    except Exception as exc:  # MXNet's downloader raises several kinds of errors offline
        raise WeightsError(f"cannot download the Gluon model zoo's {network} ({short_reason(exc)}); "
                           f"pass --weights FILE.npz, or use --weights random for a smoke run") from None
    return {f"features.{index}.{kind}": getattr(layer, kind).data().asnumpy()
            for index, layer in enumerate(net.features)
            if isinstance(layer, gluon.nn.Conv2D) for kind in ("weight", "bias")}


def _load(path: Path) -> dict:
    """The arrays of a ``save_parameters`` file. A file keeps the semantics it was saved under —
    legacy, or the chapter's ``npx.set_np()`` — and MXNet loads it only under the same ones:
    legacy first, then NumPy's (which loading wants switched on as set_np does), the caller's
    semantics restored. Arrays only: no code runs."""
    with mx.util.np_array(False), mx.util.np_shape(False):  # array semantics off before shape's
        try:
            return mx.nd.load(str(path))
        except mx.MXNetError as exc:
            if "np shape semantics" not in str(exc):
                raise
    was_on = mx.util.is_np_shape() and mx.util.is_np_array()
    mx.npx.set_np()
    try:
        return mx.npx.load(str(path))
    finally:
        if not was_on:
            mx.npx.reset_np()


def read_weights_file(path: Path) -> dict[str, onp.ndarray]:
    """A Gluon ``.params`` file (``save_parameters``: keys ``features.0.weight``, ...; or older
    prefixed names such as ``vgg0_conv0_weight``): its 3x3 convolutions in name order, each with
    the bias of the same name, as neutral arrays. Dense layers (whole models) are left out. (The
    tooling has checked what the file declares, without MXNet, before it calls this.)"""
    loaded = _load(path)
    if not isinstance(loaded, dict):
        raise WeightsError(f"{shown(path)} holds a list of arrays without names, not a Gluon model's parameters")
    pairs = named_convs({key: tuple(value.shape) for key, value in loaded.items()}, shown(path))
    return keyed([(loaded[kernel].asnumpy(), loaded[bias].asnumpy()) for kernel, bias in pairs], shown(path))


# -- the chapter's MXNet tab --------------------------------------------------------------
def chapter_image(path: Path, size: tuple[int, int]) -> onp.ndarray:
    """The image as the chapter's MXNet tab reads and resizes it, for ``scripts/compare.py
    --recipe d2l``: OpenCV decode (``mx.image.imread``), then ``mx.image.imresize(img, width,
    height)`` — OpenCV bilinear, no antialiasing, width first (PyTorch's tab: Pillow, antialiased,
    height first); (H, W, 3) in [0, 1]."""
    height, width = size
    img = mx.image.imread(str(path))  # uint8 HWC RGB
    img = mx.image.imresize(img, width, height, interp=1)  # interp=1: bilinear; width before height
    return img.asnumpy().astype(onp.float32) / 255.0
