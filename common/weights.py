"""VGG weights in one neutral format that both backends load.

The format is a mapping of float32 arrays keyed by torchvision's names: ``features.0.weight``
(out, in, 3, 3) and ``features.0.bias`` (out,), for the conv layers of ``features``. Both
frameworks store conv weights as (out, in, kh, kw), so a backend copies the arrays as they are.
The mapping also says which network the arrays are (VGG-16 or VGG-19) and the input convention
they were trained with. Here: seeded random weights, and the check every set of weights passes
before a backend gets it, first on what a file declares (each array's shape and dtype, from its
headers, before any array is read), then on the arrays. Where weights come from — files, model
zoos, the cache — is ``common/tools/io/weights.py``.
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Optional, Sequence, TypeVar

import numpy as np

from .conventions import TORCHVISION, InputConvention
from .errors import WeightsError, shown
from .layers import NETWORKS, VGG16, VGG19, Network, by_conv_count

# What a file says of an array before it is read: its shape and dtype.
Header = tuple[tuple[int, ...], np.dtype]
T = TypeVar("T")


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


def header_of(array: np.ndarray) -> Header:
    return tuple(int(n) for n in np.shape(array)), np.asarray(array).dtype


def nbytes(header: Header) -> int:
    shape, dtype = header
    return math.prod(shape) * dtype.itemsize


def check_header(key: str, header: Optional[Header], network: Network, origin: str) -> None:
    """One array ``network`` needs, by what is declared of it (None: nothing, it is missing)."""
    if header is None:
        raise WeightsError(f"{origin} has no {key}: it is not a {network.title} features state dict")
    found, dtype = header
    shape = network.parameter_shapes()[key]
    if tuple(found) != shape:
        raise WeightsError(f"{origin}: {key} has shape {tuple(found)}, {network.title} needs {shape}")
    # Real numbers only: strings would crash isfinite, and complex numbers or dates would be cast silently.
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise WeightsError(f"{origin}: {key} holds {dtype} values, not real numbers")


def check_declared(declared: Mapping[str, Header], network: Network, origin: str,
                   last_layer: Optional[int] = None) -> list[str]:
    """The arrays ``network`` needs (up to ``last_layer``), in order, as far as the first one
    missing, each checked by its declared shape and dtype: from a file's headers, so that a file
    that declares gigabytes is refused unread. The one missing is refused by ``check_weights``,
    after the arrays before it (a NaN among them is said first, as the file's first fault)."""
    keys = []
    for key in network.parameter_shapes(last_layer):
        if key not in declared:
            break
        check_header(key, declared[key], network, origin)
        keys.append(key)
    return keys


def check_weights(weights: Mapping[str, np.ndarray], network: Network, convention: InputConvention, origin: str,
                  last_layer: Optional[int] = None) -> Weights:
    """The arrays ``network`` needs (up to ``last_layer``), as float32, after checking every shape."""
    checked = Weights(network=network, convention=convention)
    for key in network.parameter_shapes(last_layer):
        check_header(key, header_of(weights[key]) if key in weights else None, network, origin)
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused just below
            array = np.ascontiguousarray(weights[key], dtype=np.float32)
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


def network_held(arrays: Mapping[str, object], asked: Optional[Network], origin: str) -> Network:
    """The network a neutral mapping (arrays, or only their headers) holds, whole or cut, and
    ``asked`` when given; refused in one line naming the first convolution missing."""
    found = network_of(arrays, asked)
    if found is None:  # name the first convolution the closest network lacks
        held = conv_indices(arrays)
        gaps = [(next(i for i in net.convs if i not in held), net) for net in (asked or VGG19, VGG16)
                if any(i not in held for i in net.convs)]
        index, net = max(gaps, key=lambda gap: gap[0]) if gaps else (0, VGG19)
        raise WeightsError(f"{origin} has no features.{index}.weight: it is not {net.title}'s features (nor any "
                           f"other VGG's), whole or cut after a layer")
    if asked is not None and found is not asked:
        raise WeightsError(f"{origin} holds {found.title} ({len(conv_indices(arrays))} convolutions), not the "
                           f"{asked.title} --network asks for: leave --network out, or pass a {asked.title} file")
    return found


def deepest(weights: Mapping[str, np.ndarray]) -> int:
    """The last feature index whose convolution the weights hold (-1 for none)."""
    return max(conv_indices(weights), default=-1)


def keyed(convs: Sequence[tuple[T, T]], origin: str) -> dict[str, T]:
    """Convolutions listed in network order, (kernel (out, in, 3, 3), bias) each — arrays, or
    their headers — keyed at their network's feature indices: how formats that name layers their
    own way become neutral."""
    network = by_conv_count(len(convs))
    if network is None:
        raise WeightsError(f"{origin} holds {len(convs)} 3x3 convolutions; VGG-16 has 13 and VGG-19 16")
    return {f"features.{index}.{kind}": array for index, (kernel, bias) in zip(network.convs, convs)
            for kind, array in (("weight", kernel), ("bias", bias))}


def named_convs(shapes: Mapping[str, Sequence[int]], origin: str) -> list[tuple[str, str]]:
    """The 3x3 convolutions of a file whose arrays are named by layer (Gluon's ``features.0.weight``
    or ``vgg0_conv0_weight``), in name order: (kernel name, bias name) pairs, each kernel with the
    bias of the same name. Other arrays (dense layers) are left out."""
    kernels = sorted((key for key, shape in shapes.items() if len(shape) == 4 and tuple(shape[2:]) == (3, 3)),
                     key=natural_order)
    pairs = []
    for key in kernels:
        bias = key[: -len("weight")] + "bias" if key.endswith("weight") else None
        if bias not in shapes:
            raise WeightsError(f"{origin}: the convolution {shown(key)} has no bias beside it")
        pairs.append((key, bias))
    return pairs


def features_key(key: str) -> Optional[str]:
    """The neutral name of a ``state_dict`` key: ``features.N.*`` of a whole VGG (saved from
    DataParallel too: ``module.``), or ``N.*`` of ``vgg19().features`` saved alone; None for the
    rest (the classifier)."""
    key = key.removeprefix("module.")
    if key.split(".")[0].isdigit():
        key = f"features.{key}"
    return key if key.startswith("features.") else None


def state_dict_of(saved: Mapping[str, T]) -> Mapping[str, T]:
    """The state dict a ``torch.save`` file holds: itself, or a training checkpoint's ``state_dict``."""
    inner = saved.get("state_dict", saved)
    return inner if isinstance(inner, Mapping) else saved


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
