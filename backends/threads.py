"""The threads a backend's framework runs, read the same way for both: OMP_NUM_THREADS when it
is a usable number, else every core this process may run on. Framework-free, shared by the two
backends (and by the tooling that sizes Ray workers); it reads the environment, so it lives
here rather than in the core."""
from __future__ import annotations

import os
import sys
from typing import Optional

_warned: set[str] = set()


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers and ``taskset`` narrow),
    not the machine's total."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def omp_threads() -> Optional[int]:
    """OMP_NUM_THREADS as a positive whole number, or None when unset. An empty or unusable
    value is treated as unset, with one warning: OpenMP runtimes read "4,2" as nested levels,
    so only the first field counts."""
    text = os.environ.get("OMP_NUM_THREADS")
    if text is None:
        return None
    try:
        value = int(text.split(",")[0])
    except ValueError:
        value = 0
    if value > 0:
        return value
    if text not in _warned:
        _warned.add(text)
        print(f"warning: OMP_NUM_THREADS={text!r} is not a positive whole number; treated as unset",
              file=sys.stderr)
    return None


def thread_count() -> int:
    """The threads a framework should use: OMP_NUM_THREADS when usable, else every available core."""
    return omp_threads() or available_cores()


def drop_unusable_omp_threads() -> None:
    """Remove an unusable OMP_NUM_THREADS (after its warning) before a framework loads its OpenMP
    runtime, which would otherwise print its own complaint ("libgomp: Invalid value ...")."""
    if "OMP_NUM_THREADS" in os.environ and omp_threads() is None:
        del os.environ["OMP_NUM_THREADS"]
