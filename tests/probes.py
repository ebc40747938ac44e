"""What tests look at inside a backend, beyond the interface: test code, kept out of the
installed packages. Each probe says, once per framework, where that framework keeps the thing."""
from __future__ import annotations

import numpy as np


def weight_gradients_enabled(backend) -> bool:
    """True if any VGG weight would get a gradient (with frozen weights none ever should)."""
    if backend.name == "mxnet":  # Gluon: a Parameter's grad_req, 'null' when frozen
        return any(p.grad_req != "null" for p in backend._features.collect_params().values())
    # PyTorch: requires_grad per tensor, and .grad once a backward has written one
    return any(p.requires_grad or p.grad is not None for p in backend._features.parameters())


def torch_lbfgs(backend, init: np.ndarray, evaluations: int, **options) -> tuple[list[float], np.ndarray]:
    """``torch.optim.LBFGS`` over the image with the targets in use, for comparison with the SciPy
    L-BFGS-B both backends use: the total loss at every evaluation, and the final image. Its
    defaults: lr 1, history 100, no line search, no bounds."""
    import torch

    # contiguous: LBFGS flattens the gradient with view(-1), and preprocess() returns a transposed view
    x = backend._native(np.ascontiguousarray(init)).requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], max_iter=evaluations, max_eval=evaluations, tolerance_grad=0.0,
                                  tolerance_change=0.0, **options)
    totals: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = backend._objective(x, backend._layers, backend._content, backend._grams, backend._loss_weights)
        terms.total.backward()
        totals.append(float(terms.total.detach()))
        return terms.total

    optimizer.step(closure)
    return totals, backend._numpy(x)
