"""The two networks, VGG-16 and VGG-19, and their feature layers by name and by index.

Names follow the VGG paper (conv4_2, relu4_2, pool4); indices are positions in torchvision's and
Gluon's ``features`` sequence, which are the same in both frameworks for the convolutional part
(VGG-19: 0 = conv1_1 ... 36 = pool5; VGG-16: 0 = conv1_1 ... 30 = pool5). A name means the same
layer in both networks; an index does not (relu4_2 is 22 in VGG-19, 20 in VGG-16).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .errors import LayerError


@dataclass(frozen=True)
class Network:
    name: str  # "vgg19"
    title: str  # "VGG-19"
    # Channels per conv layer, "M" for a 2x2 max pool: configurations "D" and "E" of the VGG paper.
    config: tuple[int | str, ...]
    # The style and content layers a run takes unless told otherwise.
    style_names: tuple[str, ...]
    content_names: tuple[str, ...]
    names: tuple[str, ...] = field(init=False)
    convs: dict[int, tuple[int, int]] = field(init=False)  # index -> (in_channels, out_channels)

    def __post_init__(self) -> None:
        names: list[str] = []
        convs: dict[int, tuple[int, int]] = {}
        block, conv, channels = 1, 1, 3
        for item in self.config:
            if item == "M":
                names.append(f"pool{block}")
                block, conv = block + 1, 1
            else:
                convs[len(names)] = (channels, int(item))
                names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
                channels, conv = int(item), conv + 1
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "convs", convs)

    @property
    def size(self) -> int:
        """Layers in ``features``."""
        return len(self.names)

    @property
    def conv_count(self) -> int:
        return len(self.convs)

    @property
    def default_style_layers(self) -> tuple[int, ...]:
        return self.parse(self.style_names)

    @property
    def default_content_layers(self) -> tuple[int, ...]:
        return self.parse(self.content_names)

    def index(self, spec: str | int) -> int:
        """Index of a layer given by name (``relu4_2``) or index (``20``)."""
        text = str(spec).strip().lower()
        if text.lstrip("-").isdigit():
            index = int(text)
            if 0 <= index < self.size:
                return index
            raise LayerError(f"layer index {index} is outside {self.title}'s features (0 to {self.size - 1})")
        if text in self.names:
            return self.names.index(text)
        raise LayerError(f"unknown {self.title} layer {spec!r}: use names like conv4_2, relu4_2, pool4 or indices "
                         f"0 to {self.size - 1}")

    def parse(self, specs: str | Iterable[str | int]) -> tuple[int, ...]:
        """Layer indices from ``"relu1_1,relu2_1"``, ``"1 6"`` or a list; order and duplicates removed."""
        if isinstance(specs, str):
            specs = specs.replace(",", " ").split()
        indices = sorted({self.index(s) for s in specs})
        if not indices:
            raise LayerError("a layer list is empty: name at least one layer")
        return tuple(indices)

    def describe(self, indices: Sequence[int]) -> str:
        return ", ".join(f"{self.names[i]} ({i})" for i in indices)

    def conv_indices(self, last_layer: int) -> tuple[int, ...]:
        """The conv layers that run when the network is cut after ``last_layer``."""
        return tuple(i for i in self.convs if i <= last_layer)

    def parameter_shapes(self, last_layer: int | None = None) -> dict[str, tuple[int, ...]]:
        """Neutral weight names (torchvision's) and shapes of every conv up to ``last_layer`` (all by default)."""
        last = self.size - 1 if last_layer is None else last_layer
        shapes: dict[str, tuple[int, ...]] = {}
        for index in self.conv_indices(last):
            cin, cout = self.convs[index]
            shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
            shapes[f"features.{index}.bias"] = (cout,)
        return shapes


# Style at relu1_1 ... relu5_1 in both (Gatys et al.); content at the chapter's relu4_4 in VGG-19 and
# at relu4_2, Gatys et al.'s content layer, in VGG-16, which has no relu4_4.
VGG19 = Network("vgg19", "VGG-19", (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                    512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
                ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), ("relu4_4",))
VGG16 = Network("vgg16", "VGG-16", (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                    512, 512, 512, "M", 512, 512, 512, "M"),
                ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), ("relu4_2",))
NETWORKS: dict[str, Network] = {net.name: net for net in (VGG19, VGG16)}


def network(name: str) -> Network:
    try:
        return NETWORKS[name]
    except KeyError:
        raise LayerError(f"unknown network {name!r}: use {' or '.join(NETWORKS)}") from None


def by_conv_count(count: int) -> Network | None:
    """The network with ``count`` convolutions (13: VGG-16, 16: VGG-19), None for any other."""
    return next((net for net in NETWORKS.values() if net.conv_count == count), None)
