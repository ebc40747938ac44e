"""The PyTorch backend: torchvision's VGG-19, eager autograd, ``torch.optim.Adam``.
Importing it imports torch and torchvision, never MXNet."""
from .backend import TorchBackend as Backend

__all__ = ["Backend"]
