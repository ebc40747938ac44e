"""The work of a batch on Ray: one actor per worker builds the network once and then stylises
pair after pair; the driver sends it decoded pixels and gets pixels back, so the workers of a
cluster need the project installed but no shared file system. Ray is imported only here and
in the driver, and only when a batch runs (the ``batch`` extra).

The core installs no signal handler, so inside an actor Ray's own handlers stay in charge."""
from __future__ import annotations

import math
import os
import time
import traceback
from pathlib import Path
from typing import Any, Optional

import numpy as np

from common.config import TransferConfig

from common.execution import Execution
from common.errors import UserError, one_line
from common.images import to_uint8
from common.registry import framework_tools, load_backend
from common.transfer import transfer

from ..cli.memory import check_fits
from ..io.weights import load_weights

ROOT = Path(__file__).resolve().parents[3]


def import_ray():
    """Ray, for the driver. Its core worker would install Abseil's failure-signal handler, which
    takes SIGTERM as well and prints six lines of C++ stack while ``ray.init`` runs: off for the
    driver only (Ray reads the variable once, when imported; the workers keep theirs)."""
    added = "RAY_DISABLE_FAILURE_SIGNAL_HANDLER" not in os.environ
    if added:
        os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = "1"
    try:
        import ray
    except ImportError:
        raise UserError('batch.py needs Ray: pip install -e ".[batch]"') from None
    finally:
        if added:
            del os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"]
    return ray


class PairWorker:
    """Made once per worker process: the backend (network and weights), then ``run`` per pair.
    It never raises: a network that cannot be built (weights missing on this node, say) is kept
    as ``failure``, which ``describe`` reports and every ``run`` returns, in one line."""

    def __init__(self, backend: str, weights: str, seed: int, last_layer: int, device: str,
                 execution: Execution, max_memory: Optional[float] = None, network: Optional[str] = None,
                 convention: Optional[str] = None) -> None:
        started = time.perf_counter()
        self.device, self.precision, self.max_memory = device, execution.precision, max_memory
        self.failure: Optional[str] = None
        try:
            self.backend_class = load_backend(backend)
            with self.backend_class.errors():
                self.backend = self.backend_class(load_weights(weights, network, seed, convention),
                                                  last_layer=last_layer, device=device, execution=execution)
        except UserError as exc:
            self.failure = str(exc)
        except Exception as exc:  # noqa: BLE001 - said once per pair, not as an opaque "worker died"
            self.failure = _reason(exc)
        self.build_seconds = time.perf_counter() - started

    def describe(self) -> dict[str, Any]:
        """Where this worker runs, what its framework says about its threads, or why it cannot work."""
        if self.failure:
            return {"pid": os.getpid(), "failure": self.failure}
        return {"pid": os.getpid(), "device": self.backend.device,
                "threads": framework_tools(self.backend.name).environment(self.backend)["threads"],
                "build_seconds": self.build_seconds}

    def run(self, content: np.ndarray, style: np.ndarray, config: TransferConfig) -> dict[str, Any]:
        """One pair; never raises: a failure is a ``failed`` result with its reason in one line."""
        started = time.perf_counter()
        if self.failure:
            return {"status": "failed", "reason": f"the worker has no network: {self.failure}", "seconds": 0.0}
        try:
            # The memory check run.py makes, on this worker's own machine, for this pair's sizes.
            check_fits(self.backend_class, config, content, [style], device=self.device, precision=self.precision,
                      max_memory=self.max_memory, size_spec=config.size)
            result = transfer(self.backend, content, style, config)
        except UserError as exc:
            return {"status": "failed", "reason": str(exc), "seconds": time.perf_counter() - started}
        except Exception as exc:  # noqa: BLE001 - one bad pair must not end the collection
            return {"status": "failed", "reason": _reason(exc), "seconds": time.perf_counter() - started}
        seconds = time.perf_counter() - started
        last = result.records[-1] if result.records else None
        out: dict[str, Any] = {
            "status": "done" if result.finished else "failed", "seconds": seconds, "image": to_uint8(result.picture),
            "worker": {"pid": os.getpid(),
                       "threads": framework_tools(self.backend.name).environment(self.backend)["threads"],
                       "build_seconds": self.build_seconds},
            "steps": len(result.records), "seconds_per_step": _finite(result.seconds_per_step),
            "losses": {k: getattr(last, k) for k in ("content", "style", "tv", "total")} if last else None,
            "picture_loss": result.picture_loss.as_dict() if result.picture_loss else None}
        if not result.finished:
            out["reason"] = result.ending.message
        return out


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return f"out of memory: {one_line(exc)}"
    return f"{type(exc).__name__}: {one_line(exc)} (at {traceback.extract_tb(exc.__traceback__)[-1].name})"


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def worker_env(cpus_per_task: float, local: bool) -> dict[str, str]:
    """Each worker's environment: its framework's threads equal its CPUs (MXNet reads the
    count once, when it loads; PyTorch is set from it when the backend is built); on a local Ray,
    also the project importable from this checkout (a cluster's nodes keep their own PYTHONPATH,
    where the project is installed)."""
    env = {"OMP_NUM_THREADS": str(max(1, math.floor(cpus_per_task)))}
    if local:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def worker_count(ray, cpus_per_task: float, gpus_per_task: float, asked: Optional[int]) -> int:
    """As many workers as the cluster's resources hold (or ``asked``, if fewer or more)."""
    if asked:
        return asked
    resources = ray.cluster_resources()
    fits = [resources.get("CPU", 0) / cpus_per_task] if cpus_per_task else []
    if gpus_per_task:
        fits.append(resources.get("GPU", 0) / gpus_per_task)
    count = int(min(fits)) if fits else 1
    if count < 1:
        raise UserError(f"the Ray cluster has {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs: "
                        f"not enough for one task of {cpus_per_task:g} CPUs and {gpus_per_task:g} GPUs")
    return count
