"""L-BFGS for both backends: SciPy's L-BFGS-B over the interface's loss and gradient.

MXNet has no L-BFGS (apache/mxnet#12132) and PyTorch's ``torch.optim.LBFGS`` would serve one
backend only, so both use one well-kept implementation: ``scipy.optimize.minimize(method=
"L-BFGS-B")``, with box bounds that keep every pixel inside [0, 1] (in network units, per
channel) and a line search, which ``torch.optim.LBFGS`` leaves out by default. SciPy works in
float64 on the host; each evaluation crosses the interface as float32 NumPy, one image each way.

It works on the picture's pixels in [0, 1], not on the network's units: L-BFGS-B's first step has
length 1 in its variables, which in Caffe's units (pixels x 255, mean subtracted) is a 255th of a
pixel, and from there it crept (HED's VGG-16, style weight 10, TV 0, 150x225: 6025 -> 5951 after
60 evaluations; in pixel units 6025 -> 13.3). Its state (the curvature pairs) lives inside SciPy's
Fortran routine and cannot be saved or carried to the next size: each size starts afresh.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from .config import TransferConfig
from .conventions import InputConvention
from .errors import BackendUnavailable
from .interface import StyleBackend
from .run import Kind, Run
from .terms import AdamMoments, Targets

HISTORY = 10  # curvature pairs kept (SciPy's default): 2 x 10 float64 images, 65 MB at 300x450


class _Over(Exception):
    """Ends SciPy's minimisation from inside the objective: SciPy checks its own ``maxfun`` only
    between iterations, so a line search would overshoot the budget, and it has no other way to
    be stopped mid-iteration."""


def pixel_units(convention: InputConvention) -> tuple[np.ndarray, np.ndarray]:
    """Per network channel, (a, b) with network units = a * pixel + b: the [0, 1] pixel range
    maps to [low, high] in the weights' convention."""
    low = np.asarray(convention.low, np.float64).reshape(1, 3, 1, 1)
    high = np.asarray(convention.high, np.float64).reshape(1, 3, 1, 1)
    return high - low, low


def lbfgs(backend: StyleBackend, x: np.ndarray, moments: Optional[AdamMoments], targets: Targets,
          config: TransferConfig, steps: int, done: int, run: Run) -> tuple[np.ndarray, None]:
    """Loss-and-gradient evaluations ``done + 1`` to ``steps`` from image ``x``; returns the
    evaluated image with the lowest loss. A resumed run restarts L-BFGS from ``x``, the best image
    so far (SciPy's state is not kept). ``moments`` (Adam's) are not used."""
    try:
        from scipy.optimize import Bounds, minimize
    except ImportError:
        raise BackendUnavailable("L-BFGS needs SciPy: pip install scipy") from None
    shape, budget = x.shape, steps - done
    a, b = pixel_units(backend.convention)
    start = np.clip((x.astype(np.float64) - b) / a, 0.0, 1.0).ravel()  # an upsampled image may overshoot
    best, best_total, count = (a * start.reshape(shape) + b).astype(np.float32), np.inf, 0
    backend.use_targets(targets, config.loss_weights)

    def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal best, best_total, count
        if count >= budget:
            raise _Over
        image = (a * v.reshape(shape) + b).astype(np.float32)
        backend.synchronize()
        clock = time.perf_counter()
        terms, grad = backend.evaluate(image)
        seconds = time.perf_counter() - clock
        count += 1
        if terms.finite() and terms.total < best_total:
            best, best_total = image, terms.total
        if not run.record(terms, None, seconds, lambda: best, lambda: (done + count, best, None)):
            raise _Over
        if not np.all(np.isfinite(grad)):  # the loss fits float32 but its gradient overflowed it
            run.end(Kind.NOT_FINITE, f"the gradient overflowed float32 at step {len(run.records)} (a loss weight "
                                     f"too large?); saved the best image so far")
            raise _Over  # SciPy would end its line search early and say nothing
        return terms.total, (grad.astype(np.float64) * a).ravel()  # d/dpixel = d/dnetwork * a

    try:
        outcome = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                           # tolerances off: the budget alone ends the run (as jcjohnson/neural-style does)
                           options={"maxcor": HISTORY, "maxfun": budget + 1, "maxiter": budget,
                                    "ftol": 0.0, "gtol": 0.0})
        # Even so SciPy ends when a step changes nothing (the loss exactly flat, or its line
        # search stuck): the run is over, and says so.
        if count < budget:
            run.notes.append(f"L-BFGS-B ended after {count} of {budget} evaluations at "
                             f"{shape[2]}x{shape[3]}: {outcome.message}")
    except _Over:
        pass
    return best, None
