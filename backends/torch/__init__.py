"""The PyTorch backend: torchvision's VGG-19, eager autograd, ``torch.optim.Adam``.
Importing it imports torch (torchvision only when its weights or image reader are asked for), never MXNet."""
from backends.threads import drop_unusable_omp_threads

# libgomp reads OMP_NUM_THREADS when torch loads it; an unusable value is dropped first (with
# one warning), and each backend sets the count itself when it is made (apply_process_settings in
# device.py; PyTorch can change it at any time, MXNet only when it loads).
drop_unusable_omp_threads()

from .backend import TorchBackend as Backend  # noqa: E402

__all__ = ["Backend"]
