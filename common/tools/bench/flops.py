"""The necessary arithmetic of one style-transfer step, counted from the network's layer shapes.

A 3x3 convolution from c_in to c_out channels on an h x w map costs 2 * c_in * c_out * 9 * h * w
floating-point operations (a multiply and an add per weight per output position). One step
runs the forward pass to the deepest layer used and the backward pass to the image; the
backward needs only the gradient with respect to each layer's input (weights are frozen),
which costs the same as the forward. ReLU, pooling, the losses and Adam are under 1 %; the Gram matrices (forward and
backward), about 7 % more, are not counted (PyTorch's FlopCounterMode: 170 M vs 2,288 M at 35x50).
"""
from __future__ import annotations

from common.layers import VGG19, Network

FORMULA = "step = 2 x sum over convs up to the last layer of 2 * c_in * c_out * 9 * h * w"


def forward_flops(size: tuple[int, int], last_layer: int, network: Network = VGG19) -> int:
    height, width = size
    total = 0
    for index in range(last_layer + 1):
        if index in network.convs:
            c_in, c_out = network.convs[index]
            total += 2 * c_in * c_out * 9 * height * width
        elif network.names[index].startswith("pool"):
            height, width = height // 2, width // 2  # both frameworks' pools floor
    return total


def step_flops(size: tuple[int, int], last_layer: int, network: Network = VGG19) -> int:
    return 2 * forward_flops(size, last_layer, network)
