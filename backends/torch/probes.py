"""What tests look at inside the PyTorch backend, beyond the interface."""
from __future__ import annotations

from .backend import TorchBackend


def weight_gradients_enabled(backend: TorchBackend) -> bool:
    """True if any VGG weight would get a gradient (with frozen weights none ever should)."""
    return any(p.requires_grad or p.grad is not None for p in backend._features.parameters())
