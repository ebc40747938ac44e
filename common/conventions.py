"""The input convention a network was trained with: what its first layer expects a picture to
look like. It belongs to the weights, not to the network: torchvision's and Gluon's VGGs take RGB
in [0, 1] standardised by ImageNet's mean and std; Caffe-trained VGGs (every Keras VGG file, HED)
take BGR in 0-255 with the mean subtracted and no division.

Both backends compute ``(picture[channels] * scale - mean) / std`` in this order, in float32, so
they see the same numbers; everything that works on pictures — clipping to [0, 1], L-BFGS-B's
bounds, colour control — goes through ``low`` and ``high``, the picture's range in network units.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class InputConvention:
    name: str
    bgr: bool  # the network's first channel is blue
    scale: float  # what a picture in [0, 1] is multiplied by
    mean: tuple[float, float, float]  # subtracted, in the network's channel order
    std: tuple[float, float, float]  # divided by, likewise

    @property
    def low(self) -> tuple[float, ...]:
        """A black pixel, channel by channel, in network units."""
        return tuple((0.0 * self.scale - m) / s for m, s in zip(self.mean, self.std))

    @property
    def high(self) -> tuple[float, ...]:
        """A white pixel, channel by channel, in network units."""
        return tuple((1.0 * self.scale - m) / s for m, s in zip(self.mean, self.std))


# ImageNet statistics torchvision's VGGs were trained with (RGB, pictures in [0, 1]).
TORCHVISION = InputConvention("torchvision", False, 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Caffe's ILSVRC mean in BGR order, as Keras' VGG applications subtract it ("caffe" mode). HED's
# own mean, (104.00699, 116.66877, 122.67892), is within one level of it.
CAFFE = InputConvention("caffe", True, 255.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
CONVENTIONS: dict[str, InputConvention] = {c.name: c for c in (TORCHVISION, CAFFE)}


def convention(name: str) -> InputConvention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ConfigError("convention", f"must be one of {', '.join(CONVENTIONS)}, not {name}") from None
