"""The memory check before the work, an admission policy of the command line (and of each batch
worker): how much a run will need, from a model fitted to measured peaks, how much the machine
has, and the largest size that fits. No framework is imported: the
GPU's free memory is asked of the backend class (``free_device_memory_gib``).

The model: a run's peak is the larger of two straight lines in pixels,

    training  base + bytes_per_pixel * (height * width of the largest size)
    targets   base + bytes_per_pixel * (pixels of the largest style image at that size)

the first for the training steps (activations and their gradients, Adam's moments, L-BFGS-B's
float64 copies), the second for the forward pass over the style image, which ``--style-scale``
can make much larger than the result. Coarse to fine adds nothing measurable: the final size
dominates (at 400x600, --scales 2 and 3 peaked within 0.03 GiB of --scales 1 in PyTorch and
lower in MXNet). The input files are not counted: they are read before the check, so their
memory is already gone from what is available.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from common.config import MIN_SIDE, Scales, TransferConfig
from common.errors import UserError
from common.images import fit_long_edge, image_size
from common.targets import style_size

if TYPE_CHECKING:
    from common.interface import StyleBackend

GIB = 2**30


@dataclass(frozen=True)
class Coefficients:
    base_gib: float  # the process with its framework and the network's weights
    bytes_per_pixel: int

    def gib(self, pixels: float) -> float:
        return self.base_gib + self.bytes_per_pixel * pixels / GIB


# Peak resident set on the CPU: the least-squares fits that `python scripts/bench.py memory --record`
# printed for the points it kept in common/tools/bench/memory_points.json (run.py --weights random
# --steps 3 in a child process, its own ru_maxrss; long edges 100-1200 at 2:3, the targets' runs
# with --style-scale 3-4), measured on a 2-core AMD EPYC with MXNet 1.9.1 (oneDNN) and PyTorch
# 2.14.1 in a fresh venv; every point lies within 7.5 % of its line (tests/test_memory.py refits
# them). Keyed (backend, optimizer, precision) and, for targets, (backend, precision). The base is
# the install's more than the algorithm's: the same torch wheels have shown 0.81 to 1.10 GiB
# resident after `import torch` alone, by how much of their libraries the page cache held.
TRAINING: dict[tuple[str, ...], Coefficients] = {
    ("mxnet", "adam", "fp32"): Coefficients(0.433, 5202),
    ("mxnet", "lbfgs", "fp32"): Coefficients(0.436, 5521),
    ("torch", "adam", "bf16"): Coefficients(0.932, 2222),
    ("torch", "adam", "fp32"): Coefficients(0.9, 2556),
    ("torch", "lbfgs", "bf16"): Coefficients(0.936, 3056),
    ("torch", "lbfgs", "fp32"): Coefficients(0.961, 3390),
}
TARGETS: dict[tuple[str, ...], Coefficients] = {
    ("mxnet", "fp32"): Coefficients(0.427, 1134),
    ("torch", "bf16"): Coefficients(0.804, 1014),
    ("torch", "fp32"): Coefficients(0.806, 1015),
}

# GPU: UNMEASURED (no GPU was at hand). Assumed: the framework's arrays take on the device what
# they take in host memory (each key's per-pixel figure from the CPU fit), L-BFGS-B's float64
# copies stay in host memory (so Adam's figure serves both optimizers), and a fixed 0.5 GiB
# covers the weights, cuDNN's workspace and the allocator's rounding; the CUDA context itself is
# taken before the free memory is read.
GPU_BASE_GIB = 0.5


def fitted(backend: str, optimizer: str = "adam", precision: str = "fp32") -> bool:
    """Whether the model knows this combination (a backend nobody measured is never refused)."""
    return (backend, optimizer, precision) in TRAINING and (backend, precision) in TARGETS


def _largest_pixels(size: tuple[int, int], scales: Scales) -> int:
    return max(h * w for h, w in scales.sizes(size))


def estimate_gib(backend: str, size: tuple[int, int], *, scales: Scales = Scales(), optimizer: str = "adam",
                 precision: str = "fp32", device: str = "cpu", style_ratio: float = 1.0) -> float:
    """The peak memory a run of ``backend`` at final ``size`` (height, width) is expected to need,
    in GiB: host memory for device "cpu", GPU memory for "gpu". ``style_ratio`` is the largest
    style image's pixels over the result's (1 with --style-fit stretch or a style of the content's
    shape, about style_scale**2 otherwise)."""
    if not fitted(backend, optimizer, precision):
        raise ValueError(f"no memory model for {backend} with {optimizer} in {precision}")
    pixels = _largest_pixels(size, scales)
    training, targets = TRAINING[(backend, optimizer, precision)], TARGETS[(backend, precision)]
    style_pixels = style_ratio * pixels
    if device == "gpu":
        adam = TRAINING[(backend, "adam", precision)]
        return GPU_BASE_GIB + max(adam.bytes_per_pixel * pixels, targets.bytes_per_pixel * style_pixels) / GIB
    return max(training.gib(pixels), targets.gib(style_pixels))


def largest_fitting(backend: str, size: tuple[int, int], budget_gib: float, *, aspect: Optional[tuple[int, int]] = None,
                    scales: Scales = Scales(), optimizer: str = "adam", precision: str = "fp32",
                    device: str = "cpu", style_ratio: float = 1.0) -> Optional[tuple[int, tuple[int, int]]]:
    """The largest long edge (and its (height, width)) at ``aspect``'s shape (default ``size``'s)
    whose estimate is within ``budget_gib``; None when not even the smallest size fits. The
    estimate grows with the long edge, so a bisection over whole long edges finds it."""
    aspect = aspect or size

    def shape(edge: int) -> tuple[int, int]:
        return fit_long_edge(aspect, edge)

    def fits(edge: int) -> bool:
        return estimate_gib(backend, shape(edge), scales=scales, optimizer=optimizer, precision=precision,
                            device=device, style_ratio=style_ratio) <= budget_gib

    low = math.ceil(MIN_SIDE * max(aspect) / min(aspect))  # the smallest long edge whose short side is MIN_SIDE
    while min(shape(low)) < MIN_SIDE:
        low += 1
    if not fits(low):
        return None
    high = low
    while fits(high):  # grow until it no longer fits: the answer lies in [low, high)
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low, shape(low)


# -- what is available ------------------------------------------------------------------
UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


def _read_int(path: Path) -> Optional[int]:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            fields = line.split()  # "inactive_file 4096"
            if len(fields) >= 2 and fields[0] == key and fields[1].isdigit():
                return int(fields[1])
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def mem_available_gib() -> Optional[float]:
    """What the system can give without swapping: psutil's ``available`` (Linux's MemAvailable,
    free memory plus the page cache it can reclaim; the like on other systems)."""
    import psutil

    try:
        return psutil.virtual_memory().available / GIB
    except (OSError, RuntimeError):
        return None


def cgroup_headroom_gib(root: Path = Path("/sys/fs/cgroup"),
                        membership: Path = Path("/proc/self/cgroup")) -> Optional[float]:
    """The tightest memory limit of this process's cgroup and its ancestors, minus what the group
    uses (its reclaimable page cache not counted); None without a limit. cgroup v2 (memory.max,
    memory.current) or v1 (memory/memory.limit_in_bytes, memory.usage_in_bytes). Read here:
    psutil reports the machine's memory, not a container's limit."""
    try:
        lines = membership.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    v2 = (root / "cgroup.controllers").exists()
    mount = root if v2 else root / "memory"
    names = ("memory.max", "memory.current", "inactive_file") if v2 else \
        ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    paths = {""}  # the mount's root: inside a container, this process's own group
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if (v2 and controllers == "") or (not v2 and "memory" in controllers.split(",")):
            parts = [p for p in path.split("/") if p]
            paths |= {"/".join(parts[:k]) for k in range(1, len(parts) + 1)}
    headroom = []
    for path in paths:
        folder = mount / path if path else mount
        limit = _read_int(folder / names[0])
        usage = _read_int(folder / names[1])
        if limit is None or usage is None or limit >= UNLIMITED:
            continue
        used = max(0, usage - _stat(folder / "memory.stat", names[2]))
        headroom.append(max(0, limit - used) / GIB)
    return min(headroom) if headroom else None


def available_gib(device: str = "cpu", backend_class: Optional[type["StyleBackend"]] = None) -> Optional[float]:
    """GiB a run can use now: on the CPU MemAvailable, or a cgroup's limit less its use where that
    is lower; on the GPU the free device memory the backend's framework reports. None when
    unknown (not Linux, no backend class for a GPU, a framework that cannot say)."""
    if device == "gpu":
        return backend_class.free_device_memory_gib() if backend_class is not None else None
    known = [v for v in (mem_available_gib(), cgroup_headroom_gib()) if v is not None]
    return min(known) if known else None


# -- the check ----------------------------------------------------------------------------
def _gib(value: float, other: float) -> str:
    """One decimal, two where one would make ``value`` and ``other`` read the same."""
    return f"{value:.1f}" if f"{value:.1f}" != f"{other:.1f}" else f"{value:.2f}"


def _size_option(size: tuple[int, int], by_long_edge: bool) -> str:
    return f"--size {max(size)}" if by_long_edge else f"--size {size[0]} {size[1]}"


def check_memory(backend: str, size: tuple[int, int], *, scales: Scales = Scales(), optimizer: str = "adam",
                 precision: str = "fp32", device: str = "cpu", style_ratio: float = 1.0,
                 max_memory: Optional[float] = None, backend_class: Optional[type["StyleBackend"]] = None,
                 size_spec: Sequence[int] = (), content_size: Optional[tuple[int, int]] = None) -> Optional[float]:
    """Refuse, in one line, a run estimated to need more memory than ``max_memory`` GiB (when
    given) or than is available now, naming the largest size that fits at the run's shape.

    ``size_spec`` is --size as typed: one number (the long edge, the shape then ``content_size``'s)
    or two; the suggestion is written the same way. Returns the estimate, or None when there is
    nothing to compare (no model for this backend, or the free memory cannot be read)."""
    if not fitted(backend, optimizer, precision):
        return None
    options = dict(scales=scales, optimizer=optimizer, precision=precision, device=device, style_ratio=style_ratio)
    needed = estimate_gib(backend, size, **options)
    limit = max_memory if max_memory is not None else available_gib(device, backend_class)
    if limit is None or needed <= limit:
        return needed
    by_long_edge = len(size_spec) == 1 and content_size is not None
    where = " on the GPU" if device == "gpu" else ""
    have = (f"more than --max-memory {max_memory:g}" if max_memory is not None
            else f"{_gib(limit, needed)} GiB is free{where}")
    override = "" if max_memory is not None else " (or pass --max-memory)"
    best = largest_fitting(backend, size, limit, aspect=content_size if by_long_edge else size, **options)
    advice = (f"the largest that fits is {_size_option(best[1], by_long_edge)}{override}" if best else
              f"not even the smallest size fits{override}")
    raise UserError(f"{_size_option(size, by_long_edge)} needs about {_gib(needed, limit)} GiB{where} "
                    f"({backend}, {optimizer}, {precision}), {have}: {advice}")


def check_run(backend_class: type["StyleBackend"], config: TransferConfig, content: np.ndarray,
              styles: Sequence[np.ndarray], *, device: str = "auto", precision: str = "fp32",
              max_memory: Optional[float] = None, size_spec: Sequence[int] = ()) -> Optional[float]:
    """:func:`check_memory` for a run of ``config`` on these images with ``device`` as asked
    ("auto" is the GPU when the backend can use one)."""
    used = "gpu" if device == "gpu" or (device == "auto" and backend_class.gpu_status().usable) else "cpu"
    largest_style = max(h * w for h, w in (style_size(s, config.size, config) for s in styles))
    return check_memory(backend_class.name, config.size, scales=config.scales, optimizer=config.optimizer,
                        precision=precision, device=used, style_ratio=largest_style / (config.size[0] * config.size[1]),
                        max_memory=max_memory, backend_class=backend_class, size_spec=size_spec,
                        content_size=image_size(content))
