"""The memory check before the work (run.py, each batch worker, compare.py): a run's estimated
peak against ``--max-memory`` or what is free now; too much is refused in one line that names the
largest size that fits. No framework is imported here.

A run's peak is its base plus the larger of what training holds per pixel of the result and what
the forward pass over the largest style image holds per pixel of that style (``--style-scale``
can make the style the larger). Coarse to fine adds nothing measurable: the final size dominates.
The input files are not counted: they are read before the check, so their memory is already gone
from what is free.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from common import registry
from common.config import MIN_SIDE, TransferConfig
from common.errors import UserError
from common.images import fit_long_edge, image_size
from common.targets import style_size

if TYPE_CHECKING:
    from common.interface import StyleBackend

GIB = 2**30

# (backend, optimizer, precision): (base GiB, bytes per pixel of the result, bytes per pixel of
# the largest style). The peak resident set of run.py --weights random --steps 3 on the CPU, one
# process per peak, as the earlier `bench.py memory --record` recorded them on a 2-core AMD EPYC
# with PyTorch 2.14.1 and MXNet 1.9.1 on 2026-12-02 (`git show 610e233:common/tools/bench/
# memory_points.json`), reduced as `python scripts/bench.py memory` reduces what it measures
# (bench/memory.py: the slope between 200x300 and 800x1200, the base raised over 300x450 and
# 600x900, the style's figure from 200x300 at --style-scale 4). The base is more the install's
# than the code's. To re-measure, run that command and paste the rows it prints.
TABLE: dict[tuple[str, str, str], tuple[float, int, int]] = {
    ("torch", "adam", "fp32"): (0.917, 2581, 914),
    ("torch", "adam", "bf16"): (0.93, 2241, 900),
    ("torch", "lbfgs", "fp32"): (0.947, 3416, 880),
    ("torch", "lbfgs", "bf16"): (0.911, 3107, 921),
    ("mxnet", "adam", "fp32"): (0.505, 5194, 1041),
    ("mxnet", "lbfgs", "fp32"): (0.442, 5556, 1110),
}
# On a GPU nothing was measured (none was at hand). ASSUMED: the arrays take on the device what
# they take in host memory (Adam's row: L-BFGS-B's float64 copies stay on the host), plus a fixed
# base for the weights, cuDNN's workspace and the allocator's rounding; the CUDA context is taken
# before the free memory is read. A refusal on the GPU says its figure is assumed.
GPU_BASE_GIB = 0.5
GPU_ASSUMED = "assumed: not measured on a GPU"


def estimate_gib(backend: str, size: tuple[int, int], *, optimizer: str = "adam", precision: str = "fp32",
                 device: str = "cpu", style_ratio: float = 1.0) -> Optional[float]:
    """The peak a run at final ``size`` (height, width) is expected to need, in GiB of host memory
    (device "cpu") or GPU memory ("gpu"); None for a combination the table lacks. ``style_ratio``:
    the largest style's pixels over the result's."""
    row = TABLE.get((backend, optimizer, precision))
    if row is None:
        return None
    base, per_pixel, per_style_pixel = row
    if device == "gpu":
        base, per_pixel = GPU_BASE_GIB, TABLE.get((backend, "adam", precision), row)[1]
    pixels = size[0] * size[1]
    return base + max(per_pixel * pixels, per_style_pixel * style_ratio * pixels) / GIB


def largest_fitting(backend: str, aspect: tuple[int, int], budget_gib: float, *, optimizer: str = "adam",
                    precision: str = "fp32", device: str = "cpu",
                    style_ratio: float = 1.0) -> Optional[tuple[int, int]]:
    """The largest (height, width) at ``aspect``'s shape whose estimate is within ``budget_gib``,
    or None when not even the smallest (short side MIN_SIDE) fits. The estimate grows with the long
    edge, so a bisection over whole long edges finds it."""
    def fits(edge: int) -> bool:
        needed = estimate_gib(backend, fit_long_edge(aspect, edge), optimizer=optimizer, precision=precision,
                              device=device, style_ratio=style_ratio)
        return needed is not None and needed <= budget_gib

    low = math.ceil(MIN_SIDE * max(aspect) / min(aspect))
    while min(fit_long_edge(aspect, low)) < MIN_SIDE:  # rounding can leave the short side one short
        low += 1
    if not fits(low):
        return None
    high = 2 * low
    while fits(high):
        low, high = high, 2 * high
    while high - low > 1:  # low fits, high does not
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return fit_long_edge(aspect, low)


# -- what is free ---------------------------------------------------------------------------
def _number(path: Path) -> Optional[int]:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _stat(path: Path, key: str) -> int:
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    return next((int(f[1]) for f in map(str.split, lines) if len(f) >= 2 and f[0] == key and f[1].isdigit()), 0)


def cgroup_headroom_gib(root: Path = Path("/sys/fs/cgroup"),
                        membership: Path = Path("/proc/self/cgroup")) -> Optional[float]:
    """The tightest memory limit of this process's cgroup and its ancestors less what the group
    uses (its reclaimable page cache not counted); None without a limit. Read here because psutil
    reports the machine's memory, not a container's limit."""
    try:
        lines = membership.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    v2 = (root / "cgroup.controllers").exists()
    mount = root if v2 else root / "memory"
    limit_name, usage_name, cache_name = (("memory.max", "memory.current", "inactive_file") if v2 else
                                          ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))
    groups = {""}  # the mount's root: inside a container, this process's own group
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if (v2 and controllers == "") or (not v2 and "memory" in controllers.split(",")):
            parts = [p for p in path.split("/") if p]
            groups |= {"/".join(parts[:k]) for k in range(1, len(parts) + 1)}
    headroom = []
    for group in groups:
        folder = mount / group
        limit, usage = _number(folder / limit_name), _number(folder / usage_name)
        if limit is not None and usage is not None and limit < 2**60:  # v1 writes no limit as about 2**63
            headroom.append(max(0, limit - max(0, usage - _stat(folder / "memory.stat", cache_name))) / GIB)
    return min(headroom) if headroom else None


def available_gib(backend: str, device: str = "cpu") -> Optional[float]:
    """GiB a run can use now: psutil's available memory (Linux's MemAvailable), or a cgroup's
    headroom where lower; on the GPU what ``backend``'s framework says is free. None if unknown."""
    if device == "gpu":
        return registry.free_gpu_memory_gib(backend)
    import psutil

    known = [psutil.virtual_memory().available / GIB, cgroup_headroom_gib()]
    return min(v for v in known if v is not None)


# -- the check ----------------------------------------------------------------------------
def _gib(value: float, other: float) -> str:
    """One decimal, two where one would make ``value`` and ``other`` read the same."""
    return f"{value:.1f}" if f"{value:.1f}" != f"{other:.1f}" else f"{value:.2f}"


def check_memory(backend: str, size: tuple[int, int], *, optimizer: str = "adam", precision: str = "fp32",
                 device: str = "cpu", style_ratio: float = 1.0, max_memory: Optional[float] = None,
                 size_spec: Sequence[int] = (), content_size: Optional[tuple[int, int]] = None) -> Optional[float]:
    """Refuse (UserError, one line) a run estimated to need more than ``max_memory`` GiB, or than
    is free when that is not given, naming the largest size that fits at the run's shape.
    ``size_spec`` is --size as typed: one number (the long edge, at ``content_size``'s shape) or
    two; the suggestion is written the same way. Returns the estimate; None for a combination the
    table lacks, which is never refused."""
    options = dict(optimizer=optimizer, precision=precision, device=device, style_ratio=style_ratio)
    needed = estimate_gib(backend, size, **options)
    if needed is None:
        return None
    limit = max_memory if max_memory is not None else available_gib(backend, device)
    if limit is None or needed <= limit:
        return needed
    by_edge = len(size_spec) == 1 and content_size is not None
    spell = (lambda s: f"--size {max(s)}") if by_edge else (lambda s: f"--size {s[0]} {s[1]}")
    gpu = " on the GPU" if device == "gpu" else ""
    what = f"{backend}, {optimizer}, {precision}" + (f"; {GPU_ASSUMED}" if gpu else "")
    have = (f"more than --max-memory {max_memory:g}" if max_memory is not None
            else f"{_gib(limit, needed)} GiB is free{gpu}")
    override = "" if max_memory is not None else " (or pass --max-memory)"
    best = largest_fitting(backend, content_size if by_edge else size, limit, **options)
    advice = f"the largest that fits is {spell(best)}" if best else "not even the smallest size fits"
    raise UserError(f"{spell(size)} needs about {_gib(needed, limit)} GiB{gpu} ({what}), {have}: {advice}{override}")


def check_fits(backend_class: type["StyleBackend"], config: TransferConfig, content: np.ndarray,
              styles: Sequence[np.ndarray], *, device: str = "auto", precision: str = "fp32",
              max_memory: Optional[float] = None, size_spec: Sequence[int] = ()) -> Optional[float]:
    """:func:`check_memory` for a run of ``config`` on these images with ``device`` as asked
    ("auto" is the GPU when the backend can use one)."""
    auto_gpu = device == "auto" and registry.framework_tools(backend_class.name).gpu_status().usable
    used = "gpu" if device == "gpu" or auto_gpu else "cpu"
    largest_style = max(h * w for h, w in (style_size(s, config.size, config) for s in styles))
    return check_memory(backend_class.name, config.size, optimizer=config.optimizer, precision=precision,
                        device=used, style_ratio=largest_style / (config.size[0] * config.size[1]),
                        max_memory=max_memory, size_spec=size_spec, content_size=image_size(content))
