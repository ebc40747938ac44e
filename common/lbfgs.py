"""L-BFGS for both backends: SciPy's L-BFGS-B over the interface's loss and gradient.

MXNet has no L-BFGS (apache/mxnet#12132) and PyTorch's ``torch.optim.LBFGS`` would serve one
backend only, so both use one well-kept implementation: ``scipy.optimize.minimize(method=
"L-BFGS-B")``, with box bounds that keep every pixel inside [0, 1] (in standardised units, per
channel) and a line search, which ``torch.optim.LBFGS`` leaves out by default. SciPy works in
float64 on the host; each evaluation crosses the interface as float32 NumPy, one image each way.

Its state (the curvature pairs) lives inside SciPy's Fortran routine and cannot be saved or
carried to the next size: each size starts a fresh L-BFGS from the image it is given.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .config import STANDARDISED_HIGH, STANDARDISED_LOW
from .errors import BackendUnavailable
from .interface import StyleBackend

if TYPE_CHECKING:
    from .transfer import _Stepper

HISTORY = 10  # curvature pairs kept (SciPy's default): 2 x 10 float64 images, 65 MB at 300x450


class _Budget(Exception):
    """Raised inside the objective when the evaluation budget is spent: SciPy's own maxfun is
    checked only between iterations, so a line search could overshoot it."""


def bounds(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of every variable of a (1, 3, H, W) standardised image."""
    low = np.broadcast_to(np.asarray(STANDARDISED_LOW).reshape(1, 3, 1, 1), shape).ravel()
    high = np.broadcast_to(np.asarray(STANDARDISED_HIGH).reshape(1, 3, 1, 1), shape).ravel()
    return low, high


def run_lbfgs(backend: StyleBackend, init: np.ndarray, evaluations: int, stepper: "_Stepper",
              done: int = 0) -> np.ndarray:
    """At most ``evaluations`` loss-and-gradient evaluations from ``init`` (targets already in use);
    returns the evaluated image with the lowest loss. A record is written per evaluation; ``done``
    evaluations were made at this size before (a resumed run: SciPy's state is not kept, so
    L-BFGS restarts from ``init``, the best image so far)."""
    try:
        from scipy.optimize import Bounds, minimize
    except ImportError:
        raise BackendUnavailable("--optimizer lbfgs needs SciPy: pip install scipy") from None
    shape = init.shape
    low, high = bounds(shape)
    start = np.clip(init.astype(np.float64).ravel(), low, high)  # an upsampled image may overshoot
    best: list = [start.reshape(shape).astype(np.float32), np.inf]
    count = [0]

    def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
        if count[0] >= evaluations:
            raise _Budget
        x = v.reshape(shape).astype(np.float32)
        backend.synchronize()
        clock = time.perf_counter()
        terms, grad = backend.evaluate(x)
        seconds = time.perf_counter() - clock
        count[0] += 1
        if terms.finite() and terms.total < best[1]:
            best[:] = [x, terms.total]
        if not stepper(terms, None, seconds, lambda: x, lambda: (done + count[0], best[0], None)):
            raise _Budget
        return terms.total, grad.astype(np.float64).ravel()

    try:
        minimize(objective, start, jac=True, method="L-BFGS-B", bounds=Bounds(low, high),
                 # tolerances off: the budget alone ends the run (as jcjohnson/neural-style does)
                 options={"maxcor": HISTORY, "maxfun": evaluations + 1, "maxiter": evaluations,
                          "ftol": 0.0, "gtol": 0.0})
    except _Budget:
        pass
    except KeyboardInterrupt:
        stepper.interrupted()
    return best[0]

