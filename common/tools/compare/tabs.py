"""The chapter's two tabs: the choices that decide what a backend computes beyond the
algorithm itself — how images are read and resized, where features are taken, the learning
rate, Adam's epsilon and the weights. The project computes the same in both backends;
``MXNET_TAB`` and ``TORCH_TAB`` are the two tabs of the Dive into Deep Learning chapter as
written, which differ in five ways. Everything said about the two tabs is said here, once."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from common.registry import framework_tools

from ..io.pictures import read_image


@dataclass(frozen=True)
class Tab:
    reader: Optional[str]  # None: common/tools/io/pictures.py; a backend name: that framework's chapter tab reads the files
    content_layers: tuple[int, ...]
    style_layers: tuple[int, ...]
    lr: float
    align_epsilon: bool
    weights: Optional[str] = None  # None: the run's --weights
    description: str = field(default="", compare=False)  # for reports; two tabs that compute alike are equal

    def read(self, path: Path, size: tuple[int, int]) -> np.ndarray:
        if self.reader is None:
            return read_image(path, size)
        return framework_tools(self.reader).chapter_image(path, size)


# The chapter asks both tabs for indices [0, 5, 10, 19, 28] (style) and [25] (content): conv
# outputs. MXNet stores them as they are (Activation('relu') makes a new array). PyTorch's loop
# stores them too, but torchvision's ReLU(inplace=True) then overwrites each one, except index 28,
# the last layer run: it really reads relu1_1, relu2_1, relu3_1, relu4_1, conv5_1 and relu4_4.
MXNET_TAB = Tab("mxnet", (25,), (0, 5, 10, 19, 28), lr=0.9, align_epsilon=False, weights="gluon",
                   description="OpenCV resize (`mx.image.imresize`, no antialiasing), conv outputs "
                               "(indices 0, 5, 10, 19, 28 and 25), lr 0.9, Gluon model-zoo weights")
TORCH_TAB = Tab("torch", (26,), (1, 6, 11, 20, 28), lr=0.3, align_epsilon=False, weights="imagenet",
                   description="antialiased resize (torchvision `Resize` on a PIL image), the same indices read "
                               "after torchvision's in-place ReLU overwrote them (relu1_1 ... relu4_1, conv5_1, "
                               "relu4_4), lr 0.3, torchvision weights")

# Each difference between the two tabs, as the fields that carry it.
TAB_DIFFERENCES: dict[str, tuple[str, ...]] = {
    "resize (OpenCV vs antialiased Pillow)": ("reader",),
    "feature point (pre-ReLU vs in-place-ReLU aliasing)": ("content_layers", "style_layers"),
    "learning rate (0.9 vs 0.3)": ("lr",),
    "Adam epsilon placement": ("align_epsilon",),
    "pretrained weights (Gluon zoo vs torchvision)": ("weights",),
}


def without(mxnet: Tab, torch: Tab, fields: tuple[str, ...]) -> Tab:
    """The MXNet tab with ``fields`` taken from the PyTorch one: that difference removed.
    Removing the epsilon difference means aligning MXNet's Adam to PyTorch's convention."""
    changes = {f: getattr(torch, f) for f in fields}
    if "align_epsilon" in fields:
        changes["align_epsilon"] = True
    return replace(mxnet, **changes)
