"""The four losses on PyTorch tensors (N = 1). Targets carry no gradient (they are
plain tensors created without ``requires_grad``)."""
from __future__ import annotations

import torch


def content_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.square(y_hat - y).mean()


def gram(y: torch.Tensor) -> torch.Tensor:
    channels = y.shape[1]
    x = y.reshape(channels, -1)
    return (x @ x.T) / x.numel()  # divided by c * h * w


def style_loss(y_hat: torch.Tensor, gram_y: torch.Tensor) -> torch.Tensor:
    return torch.square(gram(y_hat) - gram_y).mean()


def tv_loss(y_hat: torch.Tensor) -> torch.Tensor:
    vertical = (y_hat[:, :, 1:, :] - y_hat[:, :, :-1, :]).abs().mean()
    horizontal = (y_hat[:, :, :, 1:] - y_hat[:, :, :, :-1]).abs().mean()
    return 0.5 * (vertical + horizontal)
