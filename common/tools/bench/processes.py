"""One measurement per process: ``bench.py speed`` and ``quality`` run each (backend, size) as
``python -m common.tools.bench.worker JOB`` (JOB: the options as JSON), so that each peak of
memory is its own and one framework's thread settings cannot slow the other (they share the
OpenMP runtime). The child prints its numbers as one JSON line; its stderr passes through."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from common.errors import UserError
from common.registry import available, backend_names

ROOT = Path(__file__).resolve().parents[3]


def in_processes(kind: str, args: argparse.Namespace, warn: Callable[[str], None]) -> tuple[list[dict], list[str]]:
    """``kind``'s worker for every available backend of ``args.backends`` and every size, one
    process each, one after the other; returns their results and why a backend was skipped."""
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in backend_names()]
    if unknown or not names:
        raise UserError(f"--backends {args.backends}: choose from {', '.join(backend_names())}")
    results: list[dict] = []
    skipped: list[str] = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in names:
        ok, reason = available(name)
        if not ok:
            skipped.append(reason)
            warn(f"skipping {name}: {reason}")
            continue
        for height, width in args.sizes:
            job = {"kind": kind, "backend": name, "size": [height, width], "args": vars(args)}
            warn(f"{kind}: {name} at {height}x{width}")
            proc = subprocess.run([sys.executable, "-m", "common.tools.bench.worker", json.dumps(job)], stdout=subprocess.PIPE,
                                  text=True, env=env)  # stderr passes through
            if proc.returncode != 0:
                raise UserError(f"{name} at {height}x{width} failed (exit status {proc.returncode}, see above)")
            found = json.loads(proc.stdout.strip().splitlines()[-1])
            results += found if isinstance(found, list) else [found]
    return results, skipped
