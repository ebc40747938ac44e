"""Preprocess and postprocess as PyTorch tensor operations (images arrive already resized), in
the weights' input convention (common/conventions.py)."""
from __future__ import annotations

from typing import Sequence

import torch

from common.conventions import InputConvention


def _per_channel(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def preprocess(image: torch.Tensor, convention: InputConvention) -> torch.Tensor:
    """(H, W, 3) RGB in [0, 1] -> (1, 3, H, W) in the network's units."""
    x = image.permute(2, 0, 1).unsqueeze(0)
    if convention.bgr:
        x = x.flip(1)  # RGB -> BGR
    return (x * convention.scale - _per_channel(convention.mean, x)) / _per_channel(convention.std, x)


def clip(x: torch.Tensor, convention: InputConvention) -> torch.Tensor:
    """(1, 3, H, W) in network units clipped to what [0, 1] pixels give, channel by channel."""
    return torch.maximum(torch.minimum(x, _per_channel(convention.high, x)), _per_channel(convention.low, x))


def postprocess(x: torch.Tensor, convention: InputConvention) -> torch.Tensor:
    """(1, 3, H, W) in network units -> (H, W, 3) RGB clipped to [0, 1]."""
    picture = (x * _per_channel(convention.std, x) + _per_channel(convention.mean, x)) / convention.scale
    if convention.bgr:
        picture = picture.flip(1)  # BGR -> RGB
    return picture.clamp(0, 1)[0].permute(1, 2, 0)
