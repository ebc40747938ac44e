"""The four losses on MXNet NumPy arrays (N = 1), written as the chapter writes them. Targets
carry no gradient (they were never given ``attach_grad``), so nothing flows back into them."""
from __future__ import annotations

from mxnet import nd, np


def content_loss(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(y_hat - y).mean()


def gram(y: np.ndarray) -> np.ndarray:
    channels = y.shape[1]
    # The chapter writes x = y.reshape(c, -1); np.dot(x, x.T), but in mxnet.np both the reshape
    # and x.T are copies (PyTorch's are views) and its dot takes no transposed operand. On 64
    # channels at 600x900 (a 138 MB map) a recorded Gram step raised the peak by 1194 MiB that
    # way, 930 MiB with the legacy dot's transpose_b and 798 MiB with the legacy reshape too,
    # and took 1.4x the time: as_nd_ndarray() is a view, and autograd records through all three.
    flat = y.as_nd_ndarray().reshape((channels, -1))
    return nd.dot(flat, flat, transpose_b=True).as_np_ndarray() / flat.size  # divided by c * h * w


def style_loss(y_hat: np.ndarray, gram_y: np.ndarray) -> np.ndarray:
    return np.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: np.ndarray) -> np.ndarray:
    # Plain slicing, recorded by autograd (the legacy nd API needed nd.slice_axis for this).
    vertical = np.abs(y_hat[:, :, 1:, :] - y_hat[:, :, :-1, :]).mean()
    horizontal = np.abs(y_hat[:, :, :, 1:] - y_hat[:, :, :, :-1]).mean()
    return 0.5 * (vertical + horizontal)
