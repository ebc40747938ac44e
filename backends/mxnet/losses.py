"""The four losses on MXNet NumPy arrays (N = 1), written as the chapter writes them. Targets
carry no gradient (they were never given ``attach_grad``), so nothing flows back into them."""
from __future__ import annotations

from mxnet import nd, np


def content_loss(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(y_hat - y).mean()


def gram(y: np.ndarray) -> np.ndarray:
    channels = y.shape[1]
    x = y.reshape(channels, -1)
    # The chapter writes np.dot(x, x.T), but mxnet.np's transpose is a copy (PyTorch's x.T is a
    # view) and its dot has no transposed operand: on 64 channels at 600x900 (a 138 MB map), a
    # recorded step with it took 659 MB above the map against 395 MB and 1.4x the time with the
    # legacy dot's transpose_b, which autograd records through as_nd_ndarray (a view, no copy).
    flat = x.as_nd_ndarray()
    return nd.dot(flat, flat, transpose_b=True).as_np_ndarray() / x.size  # divided by c * h * w


def style_loss(y_hat: np.ndarray, gram_y: np.ndarray) -> np.ndarray:
    return np.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: np.ndarray) -> np.ndarray:
    # Plain slicing, recorded by autograd (the legacy nd API needed nd.slice_axis for this).
    vertical = np.abs(y_hat[:, :, 1:, :] - y_hat[:, :, :-1, :]).mean()
    horizontal = np.abs(y_hat[:, :, :, 1:] - y_hat[:, :, :, :-1]).mean()
    return 0.5 * (vertical + horizontal)
