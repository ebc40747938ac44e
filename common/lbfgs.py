"""L-BFGS for both backends: SciPy's L-BFGS-B over the interface's loss and gradient.

MXNet has no L-BFGS (apache/mxnet#12132) and PyTorch's ``torch.optim.LBFGS`` would serve one
backend only, so both use one well-kept implementation: ``scipy.optimize.minimize(method=
"L-BFGS-B")``, with box bounds that keep every pixel inside [0, 1] (in network units, per
channel) and a line search, which ``torch.optim.LBFGS`` leaves out by default. SciPy works in
float64 on the host; each evaluation crosses the interface as float32 NumPy, one image each way.

Its state (the curvature pairs) lives inside SciPy's Fortran routine and cannot be saved or
carried to the next size: each size starts a fresh L-BFGS from the image it is given.
"""
from __future__ import annotations

import time

import numpy as np

from .conventions import InputConvention
from .errors import BackendUnavailable
from .interface import StyleBackend
from .steplog import Next, StepLog

HISTORY = 10  # curvature pairs kept (SciPy's default): 2 x 10 float64 images, 65 MB at 300x450


class _Budget(Exception):
    """Raised inside the objective to end the minimisation: the evaluations are spent (SciPy's own
    maxfun is checked only between iterations, so a line search could overshoot it), or the step
    log said stop."""


def bounds(shape: tuple[int, ...], convention: InputConvention) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of every variable of a (1, 3, H, W) image in network units: the
    [0, 1] pixel range in the weights' convention."""
    low = np.broadcast_to(np.asarray(convention.low).reshape(1, 3, 1, 1), shape).ravel()
    high = np.broadcast_to(np.asarray(convention.high).reshape(1, 3, 1, 1), shape).ravel()
    return low, high


def run_lbfgs(backend: StyleBackend, init: np.ndarray, evaluations: int, done: int, log: StepLog) -> np.ndarray:
    """At most ``evaluations`` loss-and-gradient evaluations from ``init`` (the targets already in
    use); returns the evaluated image with the lowest loss. ``done`` evaluations were made at this
    size before (a resumed run: SciPy's state is not kept, so L-BFGS restarts from ``init``, the
    best image so far)."""
    try:
        from scipy.optimize import Bounds, minimize
    except ImportError:
        raise BackendUnavailable("L-BFGS needs SciPy: pip install scipy") from None
    shape = init.shape
    low, high = bounds(shape, backend.convention)
    start = np.clip(init.astype(np.float64).ravel(), low, high)  # an upsampled image may overshoot
    best = {"image": start.reshape(shape).astype(np.float32), "total": np.inf, "count": 0}

    def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
        if best["count"] >= evaluations:
            raise _Budget
        x = v.reshape(shape).astype(np.float32)
        backend.synchronize()
        clock = time.perf_counter()
        terms, grad = backend.evaluate(x)
        seconds = time.perf_counter() - clock
        best["count"] += 1
        if terms.finite() and terms.total < best["total"]:
            best.update(image=x, total=terms.total)
        if log.record(terms, None, seconds, lambda: x,
                      lambda: (done + best["count"], best["image"], None)) is not Next.GO:
            raise _Budget
        if not np.all(np.isfinite(grad)):  # the loss fits float32 but its gradient overflowed it
            log.gradient_overflowed()
            raise _Budget  # SciPy would end its line search early and say nothing
        return terms.total, grad.astype(np.float64).ravel()

    try:
        with log.ending_early(), backend.errors():  # backend.errors: the framework's failures in neutral words
            outcome = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=Bounds(low, high),
                               # tolerances off: the budget alone ends the run (as jcjohnson/neural-style does)
                               options={"maxcor": HISTORY, "maxfun": evaluations + 1, "maxiter": evaluations,
                                        "ftol": 0.0, "gtol": 0.0})
            # Even so SciPy ends when a step changes nothing (the loss exactly flat, or its line
            # search stuck): the run is over, and says so.
            if best["count"] < evaluations:
                log.note(f"L-BFGS-B ended after {best['count']} of {evaluations} evaluations at "
                         f"{init.shape[2]}x{init.shape[3]}: {outcome.message}")
    except _Budget:
        pass
    return best["image"]
