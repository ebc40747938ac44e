"""``torch.optim.Adam`` over the image, and its learning rate.

PyTorch's Adam adds epsilon to the bias-corrected sqrt(v_hat) (Kingma & Ba, Algorithm 1),
the convention this project aligns MXNet to, so ``align_epsilon`` changes nothing here.
"""
from __future__ import annotations

import torch

from common.config import AdamSettings


def make_adam(image: torch.Tensor, adam: AdamSettings, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam([image], lr=lr, betas=(adam.beta1, adam.beta2), eps=adam.eps)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    # What StepLR does inside: the schedule itself is common code, shared with MXNet.
    for group in optimizer.param_groups:
        group["lr"] = lr
