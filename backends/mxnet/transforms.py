"""Preprocess and postprocess as MXNet NDArray operations (images arrive already resized)."""
from __future__ import annotations

import mxnet as mx
from mxnet import nd

from common.config import IMAGENET_MEAN, IMAGENET_STD, STANDARDISED_HIGH, STANDARDISED_LOW


def _stats(ctx: mx.Context) -> tuple[nd.NDArray, nd.NDArray]:
    mean = nd.array(IMAGENET_MEAN, ctx=ctx).reshape((1, 3, 1, 1))
    std = nd.array(IMAGENET_STD, ctx=ctx).reshape((1, 3, 1, 1))
    return mean, std


def preprocess(image: nd.NDArray) -> nd.NDArray:
    """(H, W, 3) in [0, 1] -> (1, 3, H, W) standardised."""
    x = image.transpose((2, 0, 1)).expand_dims(axis=0)
    mean, std = _stats(x.context)
    return nd.broadcast_div(nd.broadcast_sub(x, mean), std)  # NDArray needs explicit broadcasting ops


def clip(x: nd.NDArray) -> nd.NDArray:
    """Standardised (1, 3, H, W) clipped to what [0, 1] pixels give, channel by channel
    (NDArray.clip takes two scalars, so per-channel bounds need broadcast_maximum/minimum)."""
    low = nd.array(STANDARDISED_LOW, ctx=x.context).reshape((1, 3, 1, 1))
    high = nd.array(STANDARDISED_HIGH, ctx=x.context).reshape((1, 3, 1, 1))
    return nd.broadcast_maximum(nd.broadcast_minimum(x, high), low)


def postprocess(x: nd.NDArray) -> nd.NDArray:
    """(1, 3, H, W) standardised -> (H, W, 3) clipped to [0, 1]."""
    mean, std = _stats(x.context)
    image = nd.broadcast_add(nd.broadcast_mul(x, std), mean)
    return image.clip(0, 1)[0].transpose((1, 2, 0))
