"""Preprocess and postprocess as MXNet NDArray operations (images arrive already resized), in
the weights' input convention (common/conventions.py)."""
from __future__ import annotations

from typing import Sequence

import mxnet as mx
from mxnet import nd

from common.conventions import InputConvention


def _per_channel(values: Sequence[float], ctx: mx.Context) -> nd.NDArray:
    return nd.array(values, ctx=ctx).reshape((1, 3, 1, 1))


def preprocess(image: nd.NDArray, convention: InputConvention) -> nd.NDArray:
    """(H, W, 3) RGB in [0, 1] -> (1, 3, H, W) in the network's units."""
    x = image.transpose((2, 0, 1)).expand_dims(axis=0)
    if convention.bgr:
        x = nd.flip(x, axis=1)  # RGB -> BGR
    # NDArray needs explicit broadcasting ops
    return nd.broadcast_div(nd.broadcast_sub(x * convention.scale, _per_channel(convention.mean, x.context)),
                            _per_channel(convention.std, x.context))


def clip(x: nd.NDArray, convention: InputConvention) -> nd.NDArray:
    """(1, 3, H, W) in network units clipped to what [0, 1] pixels give, channel by channel
    (NDArray.clip takes two scalars, so per-channel bounds need broadcast_maximum/minimum)."""
    return nd.broadcast_maximum(nd.broadcast_minimum(x, _per_channel(convention.high, x.context)),
                                _per_channel(convention.low, x.context))


def postprocess(x: nd.NDArray, convention: InputConvention) -> nd.NDArray:
    """(1, 3, H, W) in network units -> (H, W, 3) RGB clipped to [0, 1]."""
    picture = nd.broadcast_add(nd.broadcast_mul(x, _per_channel(convention.std, x.context)),
                               _per_channel(convention.mean, x.context)) / convention.scale
    if convention.bgr:
        picture = nd.flip(picture, axis=1)  # BGR -> RGB
    return picture.clip(0, 1)[0].transpose((1, 2, 0))
