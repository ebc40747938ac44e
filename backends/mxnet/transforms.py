"""Preprocess and postprocess as MXNet NumPy operations (images arrive already resized), in the
weights' input convention (common/conventions.py)."""
from __future__ import annotations

from typing import Sequence

import mxnet as mx
from mxnet import np

from common.conventions import InputConvention


def _per_channel(values: Sequence[float], ctx: mx.Context) -> np.ndarray:
    return np.array(values, dtype="float32", ctx=ctx).reshape(1, 3, 1, 1)


def preprocess(image: np.ndarray, convention: InputConvention) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> (1, 3, H, W) in the network's units."""
    x = np.expand_dims(image.transpose(2, 0, 1), axis=0)
    if convention.bgr:
        x = np.flip(x, axis=1)  # RGB -> BGR
    return (x * convention.scale - _per_channel(convention.mean, x.ctx)) / _per_channel(convention.std, x.ctx)


def clip(x: np.ndarray, convention: InputConvention) -> np.ndarray:
    """(1, 3, H, W) in network units clipped to what [0, 1] pixels give, channel by channel
    (np.clip takes scalar bounds in MXNet 1.9, so per-channel bounds are a minimum and a maximum)."""
    return np.maximum(np.minimum(x, _per_channel(convention.high, x.ctx)), _per_channel(convention.low, x.ctx))


def postprocess(x: np.ndarray, convention: InputConvention) -> np.ndarray:
    """(1, 3, H, W) in network units -> (H, W, 3) RGB clipped to [0, 1]."""
    picture = (x * _per_channel(convention.std, x.ctx) + _per_channel(convention.mean, x.ctx)) / convention.scale
    if convention.bgr:
        picture = np.flip(picture, axis=1)  # BGR -> RGB
    return np.clip(picture, 0, 1)[0].transpose(1, 2, 0)
