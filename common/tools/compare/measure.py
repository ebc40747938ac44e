"""How far apart two arrays, two loss curves or two pictures are, and the machine they ran on."""
from __future__ import annotations

import platform
import sys
from typing import Sequence

import numpy as np

from common.registry import default_threads


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max |a - b|, that divided by max |b|): ``b`` is the reference."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    return diff, (diff / scale if scale > 0 else diff)


def relative_gap(values: Sequence[float], reference: Sequence[float]) -> np.ndarray:
    """|values / reference - 1| step by step, over the steps both have."""
    n = min(len(values), len(reference))
    return np.abs(np.asarray(values[:n], np.float64) / np.asarray(reference[:n], np.float64) - 1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two [0, 1] images (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def largest_pixel_difference(a: np.ndarray, b: np.ndarray) -> float:
    return difference(a, b)[0]


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform(),
            "cpu": f"{cpu}, {default_threads()} cores available"}
