"""``bench.py batch``, the throughput of many pictures: pairs per minute with ``run.py`` run pair
after pair, against ``batch.py`` with 1, 2 and 4 concurrent tasks sharing the machine's cores,
and where a batch's time goes (Ray's start, each worker's network, the optimisation)."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from common.registry import default_threads

from .processes import ROOT, run_child


def _pairs(folder: Path, content: Path, style: Path, count: int) -> tuple[Path, Path]:
    """``count`` pairs from one photo and one painting: copies under other names (the work per
    pair is the same; only the names differ)."""
    photos, paintings = folder / "photos", folder / "paintings"
    photos.mkdir()
    paintings.mkdir()
    styles = 2 if count % 2 == 0 else 1
    for i in range(count // styles):
        shutil.copy(content, photos / f"photo{i}{content.suffix}")
    for i in range(styles):
        shutil.copy(style, paintings / f"painting{i}{style.suffix}")
    return photos, paintings


def _timed(command: Sequence[str]) -> float:
    child = run_child(command)
    if child.status != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed: {child.err.strip().splitlines()[-1:]}")
    return child.seconds


def ray_start_seconds(cpus: int) -> float:
    code = ("import time, logging, ray; t = time.perf_counter(); "
            f"ray.init(address='local', num_cpus={cpus}, include_dashboard=False, logging_level=logging.ERROR); "
            "print(time.perf_counter() - t); ray.shutdown()")
    child = run_child([sys.executable, "-c", code])
    if child.status != 0:
        raise RuntimeError(f"starting a local Ray failed ({child.status}): {child.err.strip()[-500:]}")
    return float(child.out.split()[-1])


def measure(backend: str, size: tuple[int, int], steps: int, pairs: int, tasks: Sequence[int],
            content: Path, style: Path, warn: Callable[[str], None]) -> list[dict]:
    cores = default_threads()
    common = ["--backend", backend, "--size", str(size[0]), str(size[1]), "--steps", str(steps),
              "--weights", "random", "--device", "cpu"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos, paintings = _pairs(Path(tmp), content, style, pairs)
        warn(f"{backend}: run.py, {pairs} pairs one after another")
        wall = sum(_timed([sys.executable, str(ROOT / "scripts" / "run.py"), *common, "--content", str(c),
                           "--style", str(s), "--output", str(Path(tmp) / f"seq-{c.stem}-{s.stem}.png")])
                   for c in sorted(photos.iterdir()) for s in sorted(paintings.iterdir()))
        rows.append({"backend": backend, "way": "run.py, pair after pair", "tasks": 1, "threads": cores,
                     "pairs": pairs, "seconds": wall, "per_minute": pairs / wall * 60})
        for count in tasks:
            per_task = cores / count
            out = Path(tmp) / f"batch{count}"
            warn(f"{backend}: batch.py, {count} tasks of {per_task:g} CPUs")
            wall = _timed([sys.executable, str(ROOT / "scripts" / "batch.py"), *common, "--content", str(photos),
                           "--style", str(paintings), "--out", str(out), "--cpus", str(cores),
                           "--cpus-per-task", f"{per_task:g}", "--workers", str(count)])
            rows_done = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
            builds = {r["worker"]["pid"]: r["worker"]["build_seconds"] for r in rows_done}
            rows.append({"backend": backend, "way": "batch.py", "tasks": count,
                         "threads": max(1, int(per_task)), "pairs": pairs, "seconds": wall,
                         "per_minute": pairs / wall * 60,
                         "pair_seconds": sum(r["seconds"] for r in rows_done) / len(rows_done),
                         "build_seconds": sum(builds.values()) / len(builds)})
    return rows


def table(rows: list[dict], ray_seconds: float) -> str:
    lines = ["| backend | how | concurrent tasks x threads | pairs | wall s | pairs/min | vs run.py | "
             "s per pair in a worker | network build per worker s |",
             "|---|---|---|---|---|---|---|---|---|"]
    base = {r["backend"]: r["per_minute"] for r in rows if r["way"].startswith("run.py")}
    for r in rows:
        lines.append(f"| {r['backend']} | {r['way']} | {r['tasks']} x {r['threads']} | {r['pairs']} | "
                     f"{r['seconds']:.1f} | {r['per_minute']:.2f} | {r['per_minute'] / base[r['backend']]:.2f}x | "
                     f"{r.get('pair_seconds', float('nan')):.1f} | {r.get('build_seconds', float('nan')):.2f} |")
    lines.append(f"\nStarting a local Ray: {ray_seconds:.1f} s.")
    return "\n".join(lines)
