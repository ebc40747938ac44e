"""VGG weights in one neutral format that both backends load.

The format is a mapping of float32 arrays keyed by torchvision's names: ``features.0.weight``
(out, in, 3, 3) and ``features.0.bias`` (out,), for the conv layers of ``features``. Both
frameworks store conv weights as (out, in, kh, kw), so a backend copies the arrays as they are.
The mapping also says which network the arrays are (VGG-16 or VGG-19) and the input convention
they were trained with. Here: seeded random weights, and the check every set of weights passes
before a backend gets it. Where weights come from — files, model zoos, the cache — is
``common/tools/io/weights.py``.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence

import numpy as np

from .conventions import TORCHVISION, InputConvention
from .errors import WeightsError
from .layers import NETWORKS, VGG19, Network, by_conv_count


class Weights(dict):
    """Neutral arrays (a dict of them) with the network they belong to and their input convention."""

    def __init__(self, arrays: Mapping[str, np.ndarray] = (), network: Network = VGG19,
                 convention: InputConvention = TORCHVISION) -> None:
        super().__init__(arrays)
        self.network, self.convention = network, convention

    def cut(self, last_layer: int) -> "Weights":
        """Only the arrays of the convs up to ``last_layer``."""
        keep = self.network.parameter_shapes(last_layer)
        return Weights({k: v for k, v in self.items() if k in keep}, self.network, self.convention)


def random_weights(seed: int = 0, last_layer: Optional[int] = None, network: Network = VGG19) -> Weights:
    """He-normal conv weights (std sqrt(2 / fan_in)) and small normal biases. Each layer draws
    from its own seeded stream, so cutting the network deeper never changes the weights of the
    layers before. Their convention is torchvision's (they were trained on nothing)."""
    weights = Weights(network=network)
    for index in network.conv_indices(network.size - 1 if last_layer is None else last_layer):
        cin, cout = network.convs[index]
        rng = np.random.default_rng([seed, index])
        std = np.sqrt(2.0 / (cin * 9))
        weights[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * std).astype(np.float32)
        weights[f"features.{index}.bias"] = (rng.standard_normal(cout) * 0.01).astype(np.float32)
    return weights


def check_weights(weights: Mapping[str, np.ndarray], network: Network, convention: InputConvention, origin: str,
                  last_layer: Optional[int] = None) -> Weights:
    """The arrays ``network`` needs (up to ``last_layer``), as float32, after checking every shape."""
    checked = Weights(network=network, convention=convention)
    for key, shape in network.parameter_shapes(last_layer).items():
        if key not in weights:
            raise WeightsError(f"{origin} has no {key}: it is not a {network.title} features state dict")
        array = np.asarray(weights[key])
        if tuple(array.shape) != shape:
            raise WeightsError(f"{origin}: {key} has shape {tuple(array.shape)}, {network.title} needs {shape}")
        # Real numbers only: strings would crash isfinite, and complex numbers or dates would be cast silently.
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise WeightsError(f"{origin}: {key} holds {array.dtype} values, not real numbers")
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused just below
            array = np.ascontiguousarray(array, dtype=np.float32)
        if not np.all(np.isfinite(array)):
            raise WeightsError(f"{origin}: {key} holds NaN or infinite values (in float32)")
        checked[key] = array
    return checked


def conv_indices(arrays: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The feature indices of the convolutions a neutral mapping holds (its ``features.N.weight``)."""
    found = []
    for key in arrays:
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "features" and parts[1].isdigit() and parts[2] == "weight":
            found.append(int(parts[1]))
    return tuple(sorted(found))


def network_of(arrays: Mapping[str, np.ndarray], preferred: Optional[Network] = None) -> Optional[Network]:
    """The network whose first convolutions a neutral mapping holds: all of them, or a network cut
    after some layer. Up to relu3_2 the two networks are the same layers; then ``preferred``, or
    VGG-19. None when the indices fit neither."""
    held = conv_indices(arrays)
    fits = [net for net in NETWORKS.values() if held and tuple(net.convs)[: len(held)] == held]
    if not fits:
        return None
    return preferred if preferred in fits else (VGG19 if VGG19 in fits else fits[0])


def deepest(weights: Mapping[str, np.ndarray]) -> int:
    """The last feature index whose convolution the weights hold (-1 for none)."""
    return max(conv_indices(weights), default=-1)


def keyed(convs: Sequence[tuple[np.ndarray, np.ndarray]], origin: str) -> dict[str, np.ndarray]:
    """Convolutions listed in network order, (kernel (out, in, 3, 3), bias) each, keyed at their
    network's feature indices: how formats that name layers their own way become neutral."""
    network = by_conv_count(len(convs))
    if network is None:
        raise WeightsError(f"{origin} holds {len(convs)} 3x3 convolutions; VGG-16 has 13 and VGG-19 16")
    return {f"features.{index}.{kind}": array for index, (kernel, bias) in zip(network.convs, convs)
            for kind, array in (("weight", kernel), ("bias", bias))}


def natural_order(name: str) -> list:
    """Sort key that puts conv2 before conv10 (layer names with numbers in them)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def require(weights: "Weights", last_layer: int) -> None:
    """Refuse, in one line, weights that stop before the convolutions a cut after ``last_layer`` runs."""
    net = weights.network
    missing = [i for i in net.conv_indices(last_layer) if f"features.{i}.weight" not in weights]
    if missing:
        reach = net.names[missing[0] - 1] if missing[0] > 0 else "no layer at all"  # the layer before the gap
        raise WeightsError(f"the weights hold {net.title} only up to {reach}; the layers asked for reach "
                           f"{net.names[last_layer]} ({net.names[missing[0]]} is missing)")
