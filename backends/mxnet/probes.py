"""What tests look at inside the MXNet backend, beyond the interface."""
from __future__ import annotations

from .backend import MXNetBackend


def weight_gradients_enabled(backend: MXNetBackend) -> bool:
    """True if any VGG weight would get a gradient (with frozen weights none ever should)."""
    return any(p.grad_req != "null" for p in backend._features.collect_params().values())
