"""The MXNet backend: the Gluon model zoo's VGG-19, ``autograd.record``, ``gluon.Trainer``.
Importing it imports MXNet, never PyTorch."""
from .backend import MXNetBackend as Backend

__all__ = ["Backend"]
