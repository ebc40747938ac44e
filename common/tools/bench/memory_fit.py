"""Where common/memory.py's numbers come from: the peak resident memory of real ``scripts/run.py``
runs (``--weights random``, a few steps, synthetic images) at several sizes, and least-squares
fits of peak = base + bytes_per_pixel * pixels: one for the training steps per backend, optimizer
and precision, one for the targets (a forward pass over the style image, which ``--style-scale``
can make far larger than the result) per backend and precision. ``scripts/bench.py --memory``
runs it and prints the coefficients in the form ``common/memory.py`` keeps them."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from common.images import fit_long_edge

from ..cli.memory import Coefficients
from ..io.pictures import save_image

ROOT = Path(__file__).resolve().parents[3]
POINTS = Path(__file__).with_name("memory_points.json")  # what the shipped coefficients are fitted to
RUN = ROOT / "scripts" / "run.py"

# The training fit's sizes (long edges, at the chapter's 2:3 aspect ratio): up to MXNet's L-BFGS
# at 800x1200, about 6.5 GiB, as far as a shared 24 GiB machine allows.
LONG_EDGES = (100, 200, 300, 450, 600, 900, 1200)
# The targets fit's runs: (result's long edge, --style-scale), a small result and a large style,
# so that the forward pass over the style, not training, makes the peak.
TARGET_RUNS = ((150, 4.0), (300, 3.0), (300, 4.0), (450, 4.0))
ASPECT = (2, 3)  # height : width
# What each backend runs: MXNet has no bf16 (it refuses it before any work).
COMBINATIONS = {"torch": (("adam", "fp32"), ("adam", "bf16"), ("lbfgs", "fp32"), ("lbfgs", "bf16")),
                "mxnet": (("adam", "fp32"), ("lbfgs", "fp32"))}


def size_at(long_edge: int, aspect: tuple[int, int] = ASPECT) -> tuple[int, int]:
    """(height, width) with width ``long_edge`` at ``aspect`` (height : width, height the shorter)."""
    return max(32, round(long_edge * aspect[0] / aspect[1])), long_edge


@dataclass(frozen=True)
class Measurement:
    backend: str
    size: tuple[int, int]
    optimizer: str
    precision: str
    style_scale: float
    peak_gib: float

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]

    @property
    def style_pixels(self) -> int:
        """The style image's pixels in the run (the synthetic style has the result's shape)."""
        height, width = fit_long_edge(self.size, self.style_scale * max(self.size))  # as common.targets.style_size
        return height * width


def _write_images(folder: Path, size: tuple[int, int]) -> tuple[Path, Path]:
    """A content and a style image of the run's own size (so --size reads no larger file than the
    run needs): noise, which costs the network as much memory as any picture."""
    rng = np.random.default_rng(0)
    paths = folder / "content.png", folder / "style.png"
    for path in paths:
        save_image(rng.random((*size, 3), dtype=np.float32), path)
    return paths


# Runs the command it is given and prints that child's own peak (kB) and exit status. Linux
# carries a process's peak resident set across fork and exec, so a child forked straight from a
# large parent (a test session that imported both frameworks: 0.78 GiB) would report the
# parent's size; this small go-between is the one forked from the large process.
_PEAK_OF_CHILD = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
print(usage.ru_maxrss, child.returncode)
"""


def measure_peak(backend: str, size: tuple[int, int], *, optimizer: str = "adam", precision: str = "fp32",
                 scales: int = 1, style_scale: float = 1.0, steps: int = 3) -> float:
    """GiB: the peak resident set of one ``run.py`` in a child process, from that child's own
    rusage (os.wait4; RUSAGE_CHILDREN would give the largest of all children so far)."""
    with tempfile.TemporaryDirectory(prefix="memory-fit-") as tmp:
        folder = Path(tmp)
        content, style = _write_images(folder, size)
        command = [sys.executable, str(RUN), "--backend", backend, "--weights", "random", "--device", "cpu",
                   "--content", str(content), "--style", str(style), "--size", str(size[0]), str(size[1]),
                   "--steps", str(steps), "--optimizer", optimizer, "--precision", precision,
                   "--output", str(folder / "out.png"), "--max-memory", "1024"]  # measure, never refuse
        if scales > 1:
            command += ["--scales", str(scales), "--scale-steps", "2"]
        if style_scale != 1:
            command += ["--style-scale", str(style_scale)]
        proc = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, *command], cwd=ROOT,
                              capture_output=True, text=True)
    numbers = proc.stdout.split()
    if len(numbers) != 2 or numbers[1] != "0":
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(f"{' '.join(command[1:])} failed: {lines[-1] if lines else proc.returncode}")
    return int(numbers[0]) / 2**20  # Linux reports kilobytes


def fit(points: Iterable[Measurement], style: bool = False) -> Coefficients:
    """Least squares of peak = base + per_pixel * pixels (the style's with ``style``), in GiB and
    bytes per pixel."""
    points = list(points)
    pixels = np.array([p.style_pixels if style else p.pixels for p in points], dtype=np.float64)
    peaks = np.array([p.peak_gib for p in points], dtype=np.float64)
    design = np.stack([np.ones_like(pixels), pixels], axis=1)
    (base, slope), *_ = np.linalg.lstsq(design, peaks, rcond=None)
    return Coefficients(base_gib=round(float(base), 3), bytes_per_pixel=round(float(slope) * 2**30))


def measure_all(backends: Sequence[str], long_edges: Sequence[int] = LONG_EDGES,
                target_runs: Sequence[tuple[int, float]] = TARGET_RUNS, steps: int = 3,
                report: Optional[Callable[[Measurement], None]] = None) -> list[Measurement]:
    """Every combination each backend runs at every size, then the targets' runs; one at a time."""
    out = []

    def one(backend: str, edge: int, optimizer: str, precision: str, style_scale: float) -> None:
        peak = measure_peak(backend, size_at(edge), optimizer=optimizer, precision=precision,
                            style_scale=style_scale, steps=steps)
        out.append(Measurement(backend, size_at(edge), optimizer, precision, style_scale, peak))
        if report:
            report(out[-1])

    for backend in backends:
        for optimizer, precision in COMBINATIONS[backend]:
            for edge in long_edges:
                one(backend, edge, optimizer, precision, 1.0)
        for precision in sorted({p for _, p in COMBINATIONS[backend]}):
            for edge, style_scale in target_runs:
                one(backend, edge, "adam", precision, style_scale)
    return out


Fits = dict[tuple[str, ...], Coefficients]


def fit_all(measurements: Sequence[Measurement]) -> tuple[Fits, Fits]:
    """The training fits, keyed (backend, optimizer, precision), and the targets', keyed (backend, precision)."""
    training: dict[tuple[str, ...], list[Measurement]] = {}
    targets: dict[tuple[str, ...], list[Measurement]] = {}
    for m in measurements:
        if m.style_scale == 1:
            training.setdefault((m.backend, m.optimizer, m.precision), []).append(m)
        else:
            targets.setdefault((m.backend, m.precision), []).append(m)
    return ({key: fit(points) for key, points in training.items()},
            {key: fit(points, style=True) for key, points in targets.items()})


def coefficients_text(training: Fits, targets: Fits) -> str:
    """The fitted tables as common/memory.py writes them."""
    lines = []
    for name, table in (("TRAINING", training), ("TARGETS", targets)):
        lines.append(f"{name}: dict[tuple[str, ...], Coefficients] = {{")
        for key, c in sorted(table.items()):
            lines.append(f"    {key!r}: Coefficients({c.base_gib}, {c.bytes_per_pixel}),".replace("'", '"'))
        lines.append("}")
    return "\n".join(lines)


def residuals_text(measurements: Sequence[Measurement], training: Fits, targets: Fits) -> str:
    """Each measured peak beside its fit's, so a poor fit shows."""
    rows = [f"{'backend':7} {'optimizer':9} {'precision':9} {'size':>9} {'style':>5} {'peak GiB':>8} "
            f"{'fit GiB':>8} {'error':>7}"]
    for m in measurements:
        if m.style_scale == 1:
            c, pixels = training[(m.backend, m.optimizer, m.precision)], m.pixels
        else:
            c, pixels = targets[(m.backend, m.precision)], m.style_pixels
        model = c.base_gib + c.bytes_per_pixel * pixels / 2**30
        rows.append(f"{m.backend:7} {m.optimizer:9} {m.precision:9} {m.size[0]:>4}x{m.size[1]:<4} "
                    f"{m.style_scale:5g} {m.peak_gib:8.3f} {model:8.3f} {model / m.peak_gib - 1:+7.1%}")
    return "\n".join(rows)


def model_gib(point: Measurement, training: Fits, targets: Fits) -> float:
    """The fitted line's value at ``point`` (training or targets, as the point was measured)."""
    if point.style_scale == 1:
        return training[(point.backend, point.optimizer, point.precision)].gib(point.pixels)
    return targets[(point.backend, point.precision)].gib(point.style_pixels)


@dataclass(frozen=True)
class Recorded:
    machine: str
    versions: dict
    date: str
    points: list[Measurement]


def record(points: Sequence[Measurement], path: Path = POINTS) -> Path:
    """Keep the points with what they were measured on (the tests refit them)."""
    import datetime

    from ..compare.measure import machine
    from .speed import framework_versions

    data = {"machine": machine()["cpu"], "versions": {"python": platform.python_version(), **framework_versions()},
            "date": datetime.date.today().isoformat(), "points": [asdict(p) for p in points]}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def load_points(path: Path = POINTS) -> Recorded:
    data = json.loads(path.read_text())
    points = [Measurement(**{**p, "size": tuple(p["size"])}) for p in data["points"]]
    return Recorded(data["machine"], data["versions"], data["date"], points)
