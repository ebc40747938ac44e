"""Preprocess and postprocess as PyTorch tensor operations (images arrive already resized)."""
from __future__ import annotations

import torch

from common.config import IMAGENET_MEAN, IMAGENET_STD, STANDARDISED_HIGH, STANDARDISED_LOW


def _stats(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return mean, std


def preprocess(image: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) in [0, 1] -> (1, 3, H, W) standardised."""
    x = image.permute(2, 0, 1).unsqueeze(0)
    mean, std = _stats(x)
    return (x - mean) / std


def clip(x: torch.Tensor) -> torch.Tensor:
    """Standardised (1, 3, H, W) clipped to what [0, 1] pixels give, channel by channel."""
    low = torch.tensor(STANDARDISED_LOW, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    high = torch.tensor(STANDARDISED_HIGH, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.maximum(torch.minimum(x, high), low)


def postprocess(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) standardised -> (H, W, 3) clipped to [0, 1]."""
    mean, std = _stats(x)
    return (x * std + mean).clamp(0, 1)[0].permute(1, 2, 0)
