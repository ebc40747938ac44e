"""The one way the tooling starts a child process, :func:`run_child` (Ray starts its own), and
one measurement per process: ``bench.py speed``, ``quality`` and ``memory`` run each (backend,
size) as ``python -m common.tools.bench.worker JOB`` (JOB: the options as JSON), so that each
peak of memory is its own and one framework's thread settings cannot slow the other (they share
the OpenMP runtime). The worker prints its numbers as one JSON line; its stderr passes through."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

from common.errors import UserError
from common.registry import available

from ..cli.limits import named_backends

ROOT = Path(__file__).resolve().parents[3]


class Child(NamedTuple):
    """How a child ended: its exit status, its stdout, its stderr (None where it passed through)
    and its wall time from start to exit."""

    status: int
    out: str
    err: Optional[str]
    seconds: float


def run_child(argv: Sequence[str], env: Optional[dict[str, str]] = None, own_stderr: bool = False) -> Child:
    """``argv`` run to its end, its stdout kept; its stderr kept too, unless ``own_stderr``
    passes it through to this process's (the user sees a worker's progress and errors)."""
    started = time.perf_counter()
    proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=None if own_stderr else subprocess.PIPE,
                          text=True, env=env)
    return Child(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)


def in_processes(kind: str, args: argparse.Namespace, warn: Callable[[str], None]) -> tuple[list[dict], list[str]]:
    """``kind``'s worker for every available backend of ``args.backends`` (``preflight.check_bench``
    checked their names) and every size, one process each, one after the other; returns their
    results and why a backend was skipped."""
    results: list[dict] = []
    skipped: list[str] = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in named_backends(args.backends):
        ok, reason = available(name)
        if not ok:
            skipped.append(reason)
            warn(f"skipping {name}: {reason}")
            continue
        for height, width in args.sizes:
            job = {"kind": kind, "backend": name, "size": [height, width], "args": vars(args)}
            warn(f"{kind}: {name} at {height}x{width}")
            child = run_child([sys.executable, "-m", "common.tools.bench.worker", json.dumps(job)], env=env,
                              own_stderr=True)
            if child.status != 0:
                raise UserError(f"{name} at {height}x{width} failed (exit status {child.status}, see above)")
            found = json.loads(child.out.strip().splitlines()[-1])
            results += found if isinstance(found, list) else [found]
    return results, skipped
