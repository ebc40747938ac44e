"""``torch.optim.Adam`` over the image, and its learning rate.

PyTorch's Adam adds epsilon to the bias-corrected sqrt(v_hat) (Kingma & Ba, Algorithm 1),
the convention this project aligns MXNet to, so ``align_epsilon`` changes nothing here.
"""
from __future__ import annotations

import torch

from common.config import AdamSettings


def make_adam(image: torch.Tensor, adam: AdamSettings, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam([image], lr=lr, betas=(adam.beta1, adam.beta2), eps=adam.eps)


def get_moments(optimizer: torch.optim.Adam, image: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(t, exp_avg, exp_avg_sq); Adam creates them at its first step, so zeros before it."""
    state = optimizer.state.get(image)
    if not state:
        return 0, torch.zeros_like(image), torch.zeros_like(image)
    return int(state["step"]), state["exp_avg"], state["exp_avg_sq"]


def set_moments(optimizer: torch.optim.Adam, image: torch.Tensor, step: int, m: torch.Tensor, v: torch.Tensor) -> None:
    # What Adam's first step would create, filled in ("step" is a float tensor since torch 1.12).
    optimizer.state[image] = {"step": torch.tensor(float(step)), "exp_avg": m, "exp_avg_sq": v}


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    # What StepLR does inside: the schedule itself is common code, shared with MXNet.
    for group in optimizer.param_groups:
        group["lr"] = lr
