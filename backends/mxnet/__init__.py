"""The MXNet backend: the Gluon model zoo's VGG-19, ``autograd.record``, ``gluon.Trainer``.
Importing it imports MXNet, never PyTorch."""
import os
import sys

from backends.threads import thread_count

# MXNet reads OMP_NUM_THREADS once, when it loads, and otherwise keeps cores back for its
# engine: on this 2-core machine its operators ran on one thread (0.52 s/step at 150x225,
# 0.31 with two). PyTorch can change its count at any time (torch.set_num_threads). An empty
# or unusable value is replaced here, before MXNet (and its OpenMP runtime) can read it.
if "mxnet" not in sys.modules:
    os.environ["OMP_NUM_THREADS"] = str(thread_count())

from .backend import MXNetBackend as Backend  # noqa: E402

__all__ = ["Backend"]
