"""The four losses on PyTorch tensors (N = 1). Targets carry no gradient (they are
plain tensors created without ``requires_grad``)."""
from __future__ import annotations

import torch


def content_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.square(y_hat - y).mean()


def gram(y: torch.Tensor) -> torch.Tensor:
    channels = y.shape[1]
    if y.is_contiguous(memory_format=torch.channels_last):
        # NHWC in memory: the (h w, c) matrix is a view, X X^T = (X^T)^T X^T without a copy
        # (a (c, h w) reshape would copy the whole feature map first).
        x = y.permute(0, 2, 3, 1).reshape(-1, channels)
        return (x.T @ x) / x.numel()
    x = y.reshape(channels, -1)
    return (x @ x.T) / x.numel()  # divided by c * h * w


def style_loss(y_hat: torch.Tensor, gram_y: torch.Tensor) -> torch.Tensor:
    return torch.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: torch.Tensor) -> torch.Tensor:
    vertical = (y_hat[:, :, 1:, :] - y_hat[:, :, :-1, :]).abs().mean()
    horizontal = (y_hat[:, :, :, 1:] - y_hat[:, :, :, :-1]).abs().mean()
    return 0.5 * (vertical + horizontal)
