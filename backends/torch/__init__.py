"""The PyTorch backend: torchvision's VGG-19, eager autograd, ``torch.optim.Adam``.
Importing it imports torch and torchvision, never MXNet."""
from backends.threads import drop_unusable_omp_threads

# libgomp reads OMP_NUM_THREADS when torch loads it; an unusable value is dropped first (with
# one warning), and the backend sets the count itself (ProcessSettings in device.py; PyTorch can
# change it at any time).
drop_unusable_omp_threads()

from .backend import TorchBackend as Backend  # noqa: E402

__all__ = ["Backend"]
