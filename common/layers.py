"""VGG-19's feature layers by name and by index.

Names follow the VGG paper (conv4_4, relu4_4, pool4); indices are positions in
torchvision's and Gluon's ``features`` sequence, which are the same in both frameworks
for the convolutional part (0 = conv1_1 ... 36 = pool5).
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .errors import LayerError

# Channels per conv layer, "M" for a 2x2 max pool: configuration "E" of the VGG paper.
VGG19_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)


def _build_tables() -> tuple[tuple[str, ...], dict[int, tuple[int, int]]]:
    names: list[str] = []
    convs: dict[int, tuple[int, int]] = {}  # index -> (in_channels, out_channels)
    block, conv, channels = 1, 1, 3
    for item in VGG19_CONFIG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            convs[len(names)] = (channels, int(item))
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            channels, conv = int(item), conv + 1
    return tuple(names), convs


LAYER_NAMES, CONV_CHANNELS = _build_tables()
NUM_LAYERS = len(LAYER_NAMES)  # 37

# The chapter's (and Gatys et al.'s) choices.
DEFAULT_STYLE_LAYERS: tuple[int, ...] = (1, 6, 11, 20, 29)  # relu1_1 relu2_1 relu3_1 relu4_1 relu5_1
DEFAULT_CONTENT_LAYERS: tuple[int, ...] = (26,)  # relu4_4


def layer_name(index: int) -> str:
    return LAYER_NAMES[index]


def layer_index(spec: str | int) -> int:
    """Index of a layer given by name (``relu4_4``) or index (``26``)."""
    text = str(spec).strip().lower()
    if text.lstrip("-").isdigit():
        index = int(text)
        if 0 <= index < NUM_LAYERS:
            return index
        raise LayerError(f"layer index {index} is outside VGG-19's features (0 to {NUM_LAYERS - 1})")
    if text in LAYER_NAMES:
        return LAYER_NAMES.index(text)
    raise LayerError(
        f"unknown VGG-19 layer {spec!r}: use names like conv4_4, relu4_4, pool4 or indices 0 to {NUM_LAYERS - 1}"
    )


def parse_layers(specs: str | Iterable[str | int]) -> tuple[int, ...]:
    """Layer indices from ``"relu1_1,relu2_1"``, ``"1 6"`` or a list; order and duplicates removed."""
    if isinstance(specs, str):
        specs = specs.replace(",", " ").split()
    indices = sorted({layer_index(s) for s in specs})
    if not indices:
        raise LayerError("a layer list is empty: name at least one layer")
    return tuple(indices)


def describe(indices: Sequence[int]) -> str:
    return ", ".join(f"{layer_name(i)} ({i})" for i in indices)


def conv_indices(last_layer: int) -> tuple[int, ...]:
    """The conv layers that run when the network is cut after ``last_layer``."""
    return tuple(i for i in CONV_CHANNELS if i <= last_layer)


def parameter_shapes(last_layer: int = NUM_LAYERS - 1) -> dict[str, tuple[int, ...]]:
    """Neutral weight names (torchvision's) and shapes of every conv up to ``last_layer``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for index in conv_indices(last_layer):
        cin, cout = CONV_CHANNELS[index]
        shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
        shapes[f"features.{index}.bias"] = (cout,)
    return shapes
