"""VGG-19 weights in one neutral format that both backends load.

The format is a mapping of float32 arrays keyed by torchvision's names: ``features.0.weight``
(out, in, 3, 3) and ``features.0.bias`` (out,), for the conv layers of ``features``. Both
frameworks store conv weights as (out, in, kh, kw), so a backend copies the arrays as they are.
Here: seeded random weights, and the check every set of weights passes before a backend gets
it. Where weights come from — files, model zoos, the cache — is ``common/tools/io/weights.py``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .errors import WeightsError
from .layers import CONV_CHANNELS, NUM_LAYERS, conv_indices, parameter_shapes

Weights = dict[str, np.ndarray]


def random_weights(seed: int = 0, last_layer: int = NUM_LAYERS - 1) -> Weights:
    """He-normal conv weights (std sqrt(2 / fan_in)) and small normal biases. Each layer
    draws from its own seeded stream, so cutting the network deeper never changes the
    weights of the layers before."""
    weights: Weights = {}
    for index in conv_indices(last_layer):
        cin, cout = CONV_CHANNELS[index]
        rng = np.random.default_rng([seed, index])
        std = np.sqrt(2.0 / (cin * 9))
        weights[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * std).astype(np.float32)
        weights[f"features.{index}.bias"] = (rng.standard_normal(cout) * 0.01).astype(np.float32)
    return weights


def check_weights(weights: Mapping[str, np.ndarray], last_layer: int, origin: str) -> Weights:
    """Keep the arrays needed up to ``last_layer``, as float32, after checking every shape."""
    checked: Weights = {}
    for key, shape in parameter_shapes(last_layer).items():
        if key not in weights:
            raise WeightsError(f"{origin} has no {key}: it is not a VGG-19 features state dict")
        array = np.asarray(weights[key])
        if tuple(array.shape) != shape:
            raise WeightsError(f"{origin}: {key} has shape {tuple(array.shape)}, VGG-19 needs {shape}")
        # Real numbers only: strings would crash isfinite, and complex numbers or dates would be cast silently.
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise WeightsError(f"{origin}: {key} holds {array.dtype} values, not real numbers")
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused just below
            array = np.ascontiguousarray(array, dtype=np.float32)
        if not np.all(np.isfinite(array)):
            raise WeightsError(f"{origin}: {key} holds NaN or infinite values (in float32)")
        checked[key] = array
    return checked
