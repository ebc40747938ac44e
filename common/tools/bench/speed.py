"""``bench.py speed``: synchronised seconds per step, GFLOP/s on the necessary work and peak
memory, for the unoptimized configuration (as the chapter's code runs) and the project's, one
(backend, size) per process
(``worker.py``) so that each peak is its own and one framework's thread settings cannot slow
the other (they share the OpenMP runtime)."""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Callable

import numpy as np

from common.config import TransferConfig

from common.execution import Execution
from common.errors import UserError
from common.interface import StyleBackend
from common.registry import framework_tools, load_backend, timed_step
from common.targets import compute_targets
from common.weights import random_weights

from .flops import FORMULA, step_flops
from ..timing import time_steps
from .processes import in_processes


def peak_memory(backend: StyleBackend) -> dict[str, float]:
    """Peak resident memory of this process (VmHWM), and the device allocator's peak where the
    backend's framework counts one."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            out["peak_rss_gib"] = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 2**20
    except (OSError, StopIteration):
        import resource
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    device = framework_tools(backend.name).memory_peak_gib(backend)
    if device is not None:
        out["gpu_peak_gib"] = device
    return out


def reset_peak_memory() -> None:
    """Start a configuration's peak from what it alone holds: free the previous configuration's
    arrays, hand glibc's freed pages back to the system (otherwise the resident set, and so the
    next peak, still counts them), then reset VmHWM (Linux: write 5 to clear_refs)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


def time_one(name: str, size: tuple[int, int], execution: Execution, steps: int, warmup: int, device: str) -> dict:
    reset_peak_memory()
    config = TransferConfig(size=size)
    start = time.perf_counter()
    backend = load_backend(name)(random_weights(0, config.last_layer), last_layer=config.last_layer,
                                 device=device, execution=execution)
    tools = framework_tools(name)
    tools.reset_memory_peak(backend)
    rng = np.random.default_rng(0)
    content, style = (rng.random((*size, 3), dtype=np.float32) for _ in range(2))
    init, targets = compute_targets(backend, content, style, config)
    backend.start(init, targets, config.loss_weights, config.adam, config.schedule.lr)
    timed_step(backend)
    first = time.perf_counter() - start  # set-up, targets and the first step: includes any compilation
    times = time_steps(backend, steps, warmup=max(0, warmup - 1))
    step = times.pop("step")
    flops = step_flops(size, config.last_layer)
    return {"backend": name, "framework": backend.framework, "device": backend.device, "size": list(size),
            "execution": asdict(execution), "seconds_per_step": step, "steps_per_second": 1 / step,
            "stages": times, "stage_sum_over_step": sum(times.values()) / step, "gflop_per_step": flops / 1e9, "gflops": flops / 1e9 / step,
            "setup_and_first_step_seconds": first, "threads": tools.environment(backend)["threads"],
            **peak_memory(backend)}


def worker(name: str, size: tuple[int, int], args: argparse.Namespace, warn: Callable[[str], None]) -> list[dict]:
    """The unoptimized configuration (as the chapter's code runs) and the project's, one after the
    other in this process."""
    runs = [] if args.no_unoptimized else [("unoptimized", Execution.unoptimized())]
    runs += [(f"project {p}", Execution(precision=p)) for p in args.precision]
    if args.compile:
        runs += [(f"project {p} compiled", Execution(precision=p, compile=True)) for p in args.precision]
    results = []
    for label, execution in runs:
        try:
            result = time_one(name, size, execution, args.steps, args.warmup, args.device)
        except UserError as exc:
            warn(f"skipping {name} {label}: {exc}")
            continue
        results.append({"configuration": label, **result})
        # Medians of the parts and of the whole differ a little; a stage left out of the step, or
        # work billed to the wrong clock (an unsynchronised engine), would not stay in this band.
        if not 0.8 <= result["stage_sum_over_step"] <= 1.25:
            warn(f"{name} {label}: its stages add up to {result['stage_sum_over_step']:.2f} x the step's median "
                 f"(a busy machine, or a clock that does not wait for the work)")
    slow = next((r for r in results if r["configuration"] == "unoptimized"), None)
    for r in results:
        r["speedup_vs_unoptimized"] = slow["seconds_per_step"] / r["seconds_per_step"] if slow else None
    return results


def run_all(args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    """Every (backend, size) in a process of its own; returns every number."""
    results, skipped = in_processes("speed", args, warn)
    return {"formula": FORMULA, "results": results, "skipped": skipped}


def table(results: list[dict]) -> str:
    lines = [f"{'backend':7} {'configuration':22} {'device':8} {'size':>9} {'s/step':>8} {'steps/s':>7} {'fwd':>7} "
             f"{'bwd':>7} {'update':>7} {'GFLOP/s':>8} {'speed-up':>8} {'peak GiB':>8} {'first s':>8}"]
    for r in results:
        s = r["stages"]
        speedup = f"{r['speedup_vs_unoptimized']:.2f}x" if r["speedup_vs_unoptimized"] else "-"
        lines.append(f"{r['backend']:7} {r['configuration']:22} {r['device'][:8]:8} {r['size'][0]:>4}x{r['size'][1]:<4} "
                     f"{r['seconds_per_step']:8.3f} {r['steps_per_second']:7.2f} {s['forward']:7.3f} {s['backward']:7.3f} "
                     f"{s['update']:7.4f} {r['gflops']:8.1f} {speedup:>8} {r.get('gpu_peak_gib', r['peak_rss_gib']):8.2f} "
                     f"{r['setup_and_first_step_seconds']:8.2f}")
    lines.append(f"GFLOP/s = necessary FLOPs / median seconds per step; {FORMULA}")
    return "\n".join(lines)


def framework_versions() -> dict[str, str]:
    """The versions that change the numbers, of whichever frameworks are installed (not imported)."""
    from importlib import metadata

    versions = {}
    for package in ("numpy", "torch", "torchvision", "mxnet", "scipy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions
