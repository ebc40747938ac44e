"""The four losses on MXNet NDArrays (N = 1). Targets carry no gradient (they were never
given ``attach_grad``), so nothing flows back into them."""
from __future__ import annotations

from mxnet import nd


def content_loss(y_hat: nd.NDArray, y: nd.NDArray) -> nd.NDArray:
    return nd.square(y_hat - y).mean()


def gram(y: nd.NDArray) -> nd.NDArray:
    channels = y.shape[1]
    x = y.reshape((channels, -1))
    return nd.dot(x, x, transpose_b=True) / x.size  # divided by c * h * w


def style_loss(y_hat: nd.NDArray, gram_y: nd.NDArray) -> nd.NDArray:
    return nd.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: nd.NDArray) -> nd.NDArray:
    # slice_axis is the recorded-by-autograd way to say y_hat[:, :, 1:, :].
    vertical = nd.abs(nd.slice_axis(y_hat, axis=2, begin=1, end=None)
                      - nd.slice_axis(y_hat, axis=2, begin=0, end=-1)).mean()
    horizontal = nd.abs(nd.slice_axis(y_hat, axis=3, begin=1, end=None)
                        - nd.slice_axis(y_hat, axis=3, begin=0, end=-1)).mean()
    return 0.5 * (vertical + horizontal)
