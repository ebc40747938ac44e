#!/usr/bin/env python
"""Seconds per style-transfer step for each backend, device and size, synchronised:

    python scripts/bench.py                          # every backend, 150x225 and 300x450
    python scripts/bench.py --backends torch --sizes 300x450 --steps 10 --json bench.json

Each (backend, size) runs in its own process, so that peak memory is its own and one
framework's thread settings cannot slow the other (they share the OpenMP runtime). Prints a
table and, with --json, writes every number. Achieved GFLOP/s count only the necessary work
(common/flops.py prints its formula). Within each process the chapter's configuration (trainable
weights, plain layer loop, no framework speed-ups) runs first, then the project's, so the
speed-up is a ratio measured side by side.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a clone without installing the package
    sys.path.insert(0, str(ROOT))

from common.cli import OneLineParser, run_main, whole  # noqa: E402
from common.config import MIN_SIDE, Execution, TransferConfig  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.flops import FORMULA, step_flops  # noqa: E402
from common.registry import available, backend_names  # noqa: E402

PROG = "bench.py"


def size_arg(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 300x450") from None
    if min(height, width) < MIN_SIDE:
        raise argparse.ArgumentTypeError(f"{text}: both sides must be at least {MIN_SIDE}")
    return height, width


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Benchmark the style-transfer step of each backend.",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backends", default=",".join(backend_names()), help="comma-separated")
    p.add_argument("--sizes", nargs="+", type=size_arg, default=[(150, 225), (300, 450)], metavar="HxW")
    p.add_argument("--steps", type=whole, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=whole, default=2, help="untimed steps first")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32"],
                   help="precisions of the project's configuration to time")
    p.add_argument("--compile", action="store_true", help="PyTorch: also time torch.compile (compile time reported apart)")
    p.add_argument("--no-chapter", action="store_true", help="skip the chapter configuration")
    p.add_argument("--json", metavar="FILE", help="write every number here")
    p.add_argument("--worker", nargs=2, metavar=("BACKEND", "HxW"), help=argparse.SUPPRESS)
    return p


def peak_memory(backend) -> dict[str, float]:
    """Peak resident memory of this process (VmHWM), and the GPU allocator's peak on a GPU."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            out["peak_rss_gib"] = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 2**20
    except (OSError, StopIteration):
        import resource
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if backend.name == "torch" and backend.device.startswith("cuda"):
        import torch
        out["gpu_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
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
    import numpy as np

    from common.registry import load_backend
    from common.transfer import compute_targets
    from common.weights import random_weights

    reset_peak_memory()
    config = TransferConfig(size=size)
    start = time.perf_counter()
    backend = load_backend(name)(random_weights(0, config.last_layer), last_layer=config.last_layer,
                                 device=device, execution=execution)
    if backend.name == "torch" and backend.device.startswith("cuda"):
        import torch
        torch.cuda.reset_peak_memory_stats()
    rng = np.random.default_rng(0)
    content, style = (rng.random((*size, 3), dtype=np.float32) for _ in range(2))
    init, targets = compute_targets(backend, content, style, config)
    backend.start(init, targets, config.weights, config.adam, config.schedule.lr)
    backend.timed_step()
    first = time.perf_counter() - start  # set-up, targets and the first step: includes any compilation
    for _ in range(max(0, warmup - 1)):
        backend.timed_step()
    samples = [backend.timed_step()[1] for _ in range(steps)]
    step = float(np.median([sum(s.values()) for s in samples]))
    flops = step_flops(size, config.last_layer)
    environment = backend.environment()
    return {"backend": name, "framework": backend.framework, "device": backend.device, "size": list(size),
            "execution": asdict(execution), "seconds_per_step": step, "steps_per_second": 1 / step,
            "stages": {k: float(np.median([s[k] for s in samples])) for k in samples[0]},
            "gflop_per_step": flops / 1e9, "gflops": flops / 1e9 / step, "setup_and_first_step_seconds": first,
            "threads": environment["threads"],
            **peak_memory(backend)}


def worker(name: str, size: tuple[int, int], args: argparse.Namespace) -> list[dict]:
    """The chapter's configuration and the project's, one after the other in this process."""
    runs = [] if args.no_chapter else [("chapter", Execution.chapter())]
    runs += [(f"project {p}", Execution(precision=p)) for p in args.precision]
    if args.compile:
        runs += [(f"project {p} compiled", Execution(precision=p, compile=True)) for p in args.precision]
    results = []
    for label, execution in runs:
        try:
            result = time_one(name, size, execution, args.steps, args.warmup, args.device)
        except UserError as exc:
            print(f"{PROG}: skipping {name} {label}: {exc}", file=sys.stderr)
            continue
        results.append({"configuration": label, **result})
    chapter = next((r for r in results if r["configuration"] == "chapter"), None)
    for r in results:
        r["speedup_vs_chapter"] = chapter["seconds_per_step"] / r["seconds_per_step"] if chapter else None
    return results


def run(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(worker(args.worker[0], size_arg(args.worker[1]), args)))
        return 0
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in backend_names()]
    if unknown or not names:
        raise UserError(f"--backends {args.backends}: choose from {', '.join(backend_names())}")
    if args.steps < 1:
        raise UserError(f"--steps must be a positive whole number, not {args.steps}")
    results, skipped = [], []
    for name in names:
        ok, reason = available(name)
        if not ok:
            skipped.append(reason)
            print(f"{PROG}: skipping {name}: {reason}", file=sys.stderr)
            continue
        for h, w in args.sizes:
            cmd = [sys.executable, __file__, "--worker", name, f"{h}x{w}", "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--device", args.device, "--precision", *args.precision]
            cmd += ["--compile"] * args.compile + ["--no-chapter"] * args.no_chapter
            print(f"{PROG}: timing {name} at {h}x{w}", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr passes through
            if proc.returncode != 0:
                raise UserError(f"{name} at {h}x{w} failed (exit status {proc.returncode}, see above)")
            results += json.loads(proc.stdout.strip().splitlines()[-1])
    header = (f"{'backend':7} {'configuration':22} {'device':8} {'size':>9} {'s/step':>8} {'steps/s':>7} {'fwd':>7} "
              f"{'bwd':>7} {'update':>7} {'GFLOP/s':>8} {'speed-up':>8} {'peak GiB':>8} {'first s':>8}")
    print(header)
    for r in results:
        s = r["stages"]
        speedup = f"{r['speedup_vs_chapter']:.2f}x" if r["speedup_vs_chapter"] else "-"
        print(f"{r['backend']:7} {r['configuration']:22} {r['device'][:8]:8} {r['size'][0]:>4}x{r['size'][1]:<4} "
              f"{r['seconds_per_step']:8.3f} {r['steps_per_second']:7.2f} {s['forward']:7.3f} {s['backward']:7.3f} "
              f"{s['update']:7.4f} {r['gflops']:8.1f} {speedup:>8} {r.get('gpu_peak_gib', r['peak_rss_gib']):8.2f} "
              f"{r['setup_and_first_step_seconds']:8.2f}")
    print(f"GFLOP/s = necessary FLOPs / median seconds per step; {FORMULA}")
    if args.json:
        Path(args.json).write_text(json.dumps({"formula": FORMULA, "results": results, "skipped": skipped}, indent=1))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_main(PROG, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
