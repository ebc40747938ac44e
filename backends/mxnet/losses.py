"""The four losses on MXNet NumPy arrays (N = 1), written as the chapter writes them. Targets
carry no gradient (they were never given ``attach_grad``), so nothing flows back into them."""
from __future__ import annotations

from mxnet import np


def content_loss(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(y_hat - y).mean()


def gram(y: np.ndarray) -> np.ndarray:
    channels = y.shape[1]
    x = y.reshape(channels, -1)
    return np.dot(x, x.T) / x.size  # divided by c * h * w


def style_loss(y_hat: np.ndarray, gram_y: np.ndarray) -> np.ndarray:
    return np.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: np.ndarray) -> np.ndarray:
    # Plain slicing, recorded by autograd (the legacy nd API needed nd.slice_axis for this).
    vertical = np.abs(y_hat[:, :, 1:, :] - y_hat[:, :, :-1, :]).mean()
    horizontal = np.abs(y_hat[:, :, :, 1:] - y_hat[:, :, :, :-1]).mean()
    return 0.5 * (vertical + horizontal)
