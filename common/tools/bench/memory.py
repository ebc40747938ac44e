"""``bench.py memory``: the peaks behind the memory check's table (``common/tools/cli/memory.py``
``TABLE``). Each peak is one ``run.py`` (``--weights random``, 3 steps, noise images) in a child
process of its own, started by :func:`processes.in_processes`; the child runs run.py's ``main``
and reports its VmHWM. The command prints the rows to paste into ``TABLE``; nothing is stored."""
from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from common.images import fit_long_edge

from ..io.pictures import save_image
from .processes import in_processes

GIB = 2**30
# At the chapter's 2:3, up to MXNet's L-BFGS at 800x1200, about 5.4 GiB; 300x450 is where MXNet's
# recorded peak stood furthest above the line through the others (glibc's malloc keeps freed maps).
SIZES = ((200, 300), (300, 450), (600, 900), (800, 1200))
STYLE_SCALE = 4.0  # at the smallest size: the style's forward pass, not training, sets that peak
COMBINATIONS = {"torch": (("adam", "fp32"), ("adam", "bf16"), ("lbfgs", "fp32"), ("lbfgs", "bf16")),
                "mxnet": (("adam", "fp32"), ("lbfgs", "fp32"))}  # MXNet refuses bf16


def _peak_gib() -> float:
    """This process's peak resident set. VmHWM, not ru_maxrss: a child forked from a large parent
    (bench.py has imported both frameworks to see they load) inherits the parent's ru_maxrss
    across exec, while VmHWM belongs to the address space exec made."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 2**20


def worker(name: str, size: tuple[int, int], args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    """In the child: one run.py at ``size`` with ``args``' optimizer, precision and style scale."""
    from ..cli.main import main

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        content, style = Path(tmp, "content.png"), Path(tmp, "style.png")
        for seed, path in enumerate((content, style)):  # noise costs the network what any picture does
            save_image(np.random.default_rng(seed).random((*size, 3), dtype=np.float32), path)
        status = main(["--backend", name, "--weights", "random", "--device", "cpu", "--steps", "3",
                       "--content", str(content), "--style", str(style), "--size", str(size[0]), str(size[1]),
                       "--optimizer", args.optimizer, "--precision", args.precision,
                       "--style-scale", str(args.style_scale), "--output", str(Path(tmp, "out.png")),
                       "--max-memory", "1024"])  # measure, never refuse
    if status:
        raise SystemExit(status)  # run.py has said why on stderr
    style_h, style_w = fit_long_edge(size, args.style_scale * max(size))  # as common.targets.style_size
    return {"backend": name, "optimizer": args.optimizer, "precision": args.precision, "size": list(size),
            "style_scale": args.style_scale, "pixels": size[0] * size[1], "style_pixels": style_h * style_w,
            "peak_gib": _peak_gib()}


def table_row(training: Sequence[dict], style: dict) -> tuple[float, int, int]:
    """(base GiB, bytes per pixel, bytes per style pixel) from the peaks at two sizes or more and
    one large-style peak: the slope between the smallest and the largest size, the base raised
    until no peak lies above that line (MXNet's bends above a straight line in between), and
    what the style's peak holds above that base over the style's pixels. Rounded up."""
    points = sorted(training, key=lambda p: p["pixels"])
    low, high = points[0], points[-1]
    slope = max(0.0, (high["peak_gib"] - low["peak_gib"]) / (high["pixels"] - low["pixels"]))
    base = max(p["peak_gib"] - slope * p["pixels"] for p in points)
    style_slope = max(0.0, (style["peak_gib"] - base) / style["style_pixels"])
    return math.ceil(base * 1000) / 1000, math.ceil(slope * GIB), math.ceil(style_slope * GIB)


def measure(names: Sequence[str], sizes: Sequence[tuple[int, int]], warn: Callable[[str], None]) -> list[dict]:
    """Every combination each backend runs at every size, and per precision one large-style run;
    one process per peak, one after the other."""
    points = []
    for name in names:
        for optimizer, precision in COMBINATIONS.get(name, (("adam", "fp32"),)):
            args = argparse.Namespace(backends=name, sizes=list(sizes), optimizer=optimizer, precision=precision,
                                      style_scale=1.0)
            training, _ = in_processes("memory", args, warn)
            if not training:
                break  # not available here: in_processes has said why
            points += training
            if optimizer == "adam":  # the style's forward pass comes before any step: one optimizer serves
                args.sizes, args.style_scale = [min(sizes, key=lambda s: s[0] * s[1])], STYLE_SCALE
                points += in_processes("memory", args, warn)[0]
    return points


def table_text(points: Sequence[dict]) -> str:
    """The measured peaks, then the rows of ``TABLE`` as cli/memory.py writes them."""
    lines = [f"{'backend':7} {'optimizer':9} {'precision':9} {'size':>9} {'style':>5} {'peak GiB':>8}"]
    training: dict[tuple[str, str, str], list[dict]] = {}
    styles: dict[tuple[str, str], dict] = {}
    for p in points:
        lines.append(f"{p['backend']:7} {p['optimizer']:9} {p['precision']:9} {p['size'][0]:>4}x{p['size'][1]:<4} "
                     f"{p['style_scale']:5g} {p['peak_gib']:8.3f}")
        if p["style_scale"] == 1:
            training.setdefault((p["backend"], p["optimizer"], p["precision"]), []).append(p)
        else:
            styles[(p["backend"], p["precision"])] = p
    lines.append("TABLE: dict[tuple[str, str, str], tuple[float, int, int]] = {")
    for (name, optimizer, precision), row in training.items():
        lines.append(f'    ("{name}", "{optimizer}", "{precision}"): {table_row(row, styles[(name, precision)])},')
    return "\n".join(lines + ["}"])
