"""Backend-neutral half of the project: the interface, configuration, image I/O, weights,
the backend registry and the one copy of the Gatys style-transfer algorithm.

Nothing in this package imports MXNet or PyTorch at import time; only NumPy arrays cross
into and out of the backends.
"""
