"""Keras VGG weight files, read with h5py (no TensorFlow): the Keras 2 layout of
``keras.applications`` VGG16/VGG19 (``*_weights_tf_dim_ordering_tf_kernels[_notop].h5``, and
whole models saved with ``model.save``) and Keras 3's ``.weights.h5`` layout.

- Keras 2 (``legacy_h5_format``): the root (or ``model_weights`` in a whole-model file) lists its
  layers in the attribute ``layer_names``; each layer's group lists its arrays in
  ``weight_names`` (kernel first, then bias), whose names are dataset paths inside the group.
  Long lists are split over ``layer_names0``, ``layer_names1``, ...
- Keras 3: one group per layer path, its arrays in ``vars/0`` (kernel), ``vars/1`` (bias).

Kernels are (kh, kw, in, out) (HWIO); the neutral format is (out, in, kh, kw). Keras and PyTorch
both compute cross-correlation, so no kernel is flipped. Only 3x3 convolutions count: dense
layers (full files), 1x1 side outputs (HED) and optimizer state are left out, and never read:
each dataset's shape and dtype come from its header, and the convolutions' are checked (by the
caller) before any of them is read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from common.errors import WeightsError, shown
from common.weights import Header, keyed, natural_order


def _attribute_list(group: Any, name: str) -> list[str]:
    """A Keras 2 name list, whole or in chunks (HDF5 caps an attribute's size)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _keras2_convs(root: Any) -> list[tuple[Any, Any]]:
    convs = []
    for layer in _attribute_list(root, "layer_names"):
        group = root[layer]
        names = _attribute_list(group, "weight_names")
        if len(names) == 2:
            convs.append((group[names[0]], group[names[1]]))
    return convs


def _keras3_convs(root: Any) -> list[tuple[Any, Any]]:
    found: list[str] = []
    root.visit(lambda path: found.append(path) if path.endswith("vars/0") else None)
    convs = []
    for path in sorted(found, key=natural_order):
        parent = path[: -len("vars/0")].rstrip("/")
        if parent.split("/")[0] == "optimizer" or f"{parent}/vars/1" not in root:
            continue
        convs.append((root[path], root[f"{parent}/vars/1"]))
    return convs


def _header(dataset: Any, kernel: bool) -> Header:
    """A dataset's (shape, dtype) as the neutral array will have them (kernels (out, in, kh, kw))."""
    shape = tuple(int(n) for n in dataset.shape or ())
    return (shape[::-1][:2] + shape[:2] if kernel else shape), dataset.dtype


def _is_3x3(dataset: Any) -> bool:
    # HDF5 datasets that are not arrays (groups named like one, null dataspaces) have no shape.
    shape = getattr(dataset, "shape", None)
    return shape is not None and len(shape) == 4 and tuple(shape[:2]) == (3, 3)


def read_keras(path: Path, check: Callable[[dict[str, Header]], None]) -> dict[str, np.ndarray]:
    """The 3x3 convolutions of a Keras VGG weights file as neutral arrays (kernels (out, in, kh,
    kw)), keyed at their network's feature indices; ``check`` is given the same keys with each
    array's (shape, dtype) first, from the datasets' headers, and raises to refuse the file
    before any dataset is read."""
    try:
        import h5py
    except ImportError:
        raise WeightsError('reading a Keras .h5 file needs h5py: pip install h5py') from None
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            convs = _keras2_convs(root) if "layer_names" in root.attrs or "layer_names0" in root.attrs \
                else _keras3_convs(root)
            convs = [(kernel, bias) for kernel, bias in convs if _is_3x3(kernel)]
            if not convs:
                raise WeightsError(f"{shown(path)} holds no 3x3 convolution in a Keras layout (Keras 2 layer_names, "
                                   f"or Keras 3 vars/0 and vars/1): it is not a Keras VGG weights file")
            check(keyed([(_header(kernel, True), _header(bias, False)) for kernel, bias in convs], shown(path)))
            return keyed([(np.ascontiguousarray(kernel[()].transpose(3, 2, 0, 1)), np.asarray(bias[()]))
                          for kernel, bias in convs], shown(path))
    except OSError as exc:  # not HDF5, truncated, unreadable
        raise WeightsError(f"{shown(path)} is not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
