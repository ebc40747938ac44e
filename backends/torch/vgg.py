"""torchvision's VGG-19 ``features``, cut after the deepest layer used, loaded from neutral
weights and frozen; and a module that returns the features at chosen indices."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torchvision
from torch import nn


def build_features(weights: Mapping[str, np.ndarray], last_layer: int, device: torch.device) -> nn.Sequential:
    # Built on the meta device: no memory and no random init for weights about to be replaced
    # (the full vgg19() would also allocate its 120M-parameter classifier).
    with torch.device("meta"):
        features = torchvision.models.vgg19(weights=None).features[: last_layer + 1]
    state = {key.removeprefix("features."): torch.from_numpy(np.asarray(value))
             for key, value in weights.items() if int(key.split(".")[1]) <= last_layer}
    features.load_state_dict(state, assign=True)
    # Frozen: no weight gradient is ever computed (MXNet: grad_req='null'); saves ~1/3 of a step.
    return features.to(device).eval().requires_grad_(False)


class FeatureTaps(nn.Module):
    """Runs ``features`` once and returns the outputs at ``layers`` (in that order)."""

    def __init__(self, features: nn.Sequential, layers: Sequence[int]) -> None:
        super().__init__()
        self.features = features
        self.layers = tuple(layers)
        self._wanted = set(self.layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taken: dict[int, torch.Tensor] = {}
        last = max(self.layers)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._wanted:
                following = self.features[index + 1] if index < last else None
                # torchvision's ReLU(inplace=True) overwrites its input, so a conv output kept by
                # reference would silently become post-ReLU when the next layer runs (MXNet's
                # Activation('relu') is never in place): keep a copy instead.
                taken[index] = x.clone() if getattr(following, "inplace", False) else x
            if index == last:
                break
        return [taken[i] for i in self.layers]
