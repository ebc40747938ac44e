"""torchvision's VGG-16 or VGG-19 ``features``, cut after the deepest layer used, loaded from
neutral weights and frozen; and a module that returns the features at chosen indices.

The layers are torchvision's own, built here from its configuration (``torchvision.models.vgg``'s
``cfgs`` "D" and "E"; a test holds them module for module against ``vgg19().features``): importing
torchvision costs about a second of start-up, as much again as torch itself."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from common.weights import Weights


# Output channels of each 3x3 convolution, "M" a 2x2 max pool: torchvision's cfgs["D"] and ["E"].
CONFIGURATIONS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg_features(network: str) -> nn.Sequential:
    """``torchvision.models.<network>().features``, layer for layer, with its random init."""
    layers: list[nn.Module] = []
    channels = 3
    for width in CONFIGURATIONS[network]:
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            # inplace=True as torchvision has it: the ReLU overwrites the conv output (see _run)
            layers += [nn.Conv2d(channels, int(width), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(width)
    return nn.Sequential(*layers)


def build_features(weights: Weights, last_layer: int, device: torch.device,
                   frozen: bool = True, channels_last: bool = False) -> nn.Sequential:
    # Built on the meta device: no memory and no random init for weights about to be replaced.
    with torch.device("meta"):
        features = vgg_features(weights.network.name)[: last_layer + 1]
    state = {key.removeprefix("features."): torch.from_numpy(np.asarray(value))
             for key, value in weights.items() if int(key.split(".")[1]) <= last_layer}
    features.load_state_dict(state, assign=True)
    features = features.to(device).eval()
    if channels_last:  # NHWC in memory: oneDNN and cuDNN convolutions skip their layout reorders
        features = features.to(memory_format=torch.channels_last)
    # Frozen: no weight gradient is ever computed (MXNet: grad_req='null'); saves ~1/3 of a step.
    # The chapter leaves the weights trainable: their gradients are computed and never used.
    return features.requires_grad_(not frozen)


class FeatureTaps(nn.Module):
    """Runs ``features`` once and returns the outputs at ``layers`` (in that order)."""

    def __init__(self, features: nn.Sequential, layers: Sequence[int], bf16: bool = False,
                 channels_last: bool = False) -> None:
        super().__init__()
        self.features = features
        self.layers = tuple(layers)
        self._wanted = set(self.layers)
        self._bf16 = bf16
        self._channels_last = channels_last

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        # bf16 autocast runs the convolutions in bfloat16 (AVX-512 BF16 on the CPU, tensor cores on
        # a GPU); the features come back as float32, so Gram matrices and losses stay in float32.
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self._bf16):
            features = self._run(x)
        return [y.float() for y in features]

    def _run(self, x: torch.Tensor) -> list[torch.Tensor]:
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
