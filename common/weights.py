"""VGG-19 weights in one neutral format that both backends load.

The format is a mapping (or ``.npz`` file) of float32 arrays keyed by torchvision's names:
``features.0.weight`` (out, in, 3, 3) and ``features.0.bias`` (out,), for the conv layers
of ``features``. Both frameworks store conv weights as (out, in, kh, kw), so a backend
copies the arrays as they are.

Sources (``--weights``):
- ``imagenet``: torchvision's IMAGENET1K_V1, downloaded once by torchvision's loader and
  kept converted in the cache, so later runs (and the MXNet backend) need no network and no torch.
- ``gluon``: the Gluon model zoo's own VGG-19, a different network trained separately.
- ``random``: seeded He-normal weights made here with NumPy, identical for both backends.
- a path: a neutral ``.npz`` or a torchvision ``state_dict`` ``.pth``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from . import registry
from .cache import cache_dir
from .errors import BackendUnavailable, UserError, WeightsError, one_line
from .files import atomic_path, exclusive
from .layers import CONV_CHANNELS, NUM_LAYERS, conv_indices, parameter_shapes

Weights = dict[str, np.ndarray]
SOURCES = (*registry.pretrained_sources(), "random")


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


def save_npz(weights: Mapping[str, np.ndarray], path: Path) -> Path:
    with atomic_path(path) as tmp:
        np.savez(tmp, **weights)
    return path


def read_file(path: Path) -> Mapping[str, np.ndarray]:
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (use imagenet, gluon, random or a .npz/.pth path)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        reader = _needs_backend(f"reading a {suffix} file", registry.weight_file_reader, path)
        if reader is not None:
            return reader.read_weights_file(path)
    except UserError:
        raise
    except Exception as exc:  # a damaged file raises whatever its parser raises
        raise WeightsError(f"cannot read weights file {path}: {one_line(exc)}") from None
    raise WeightsError(f"weights file {path} must be a .npz (neutral) or .pth (torchvision state_dict)")


def _needs_backend(purpose: str, call, *args):
    """``call(*args)``, with a missing framework turned into a WeightsError that says what to pass."""
    try:
        return call(*args)
    except BackendUnavailable as exc:
        raise WeightsError(f"{purpose} needs another framework ({exc}); "
                           f"pass a neutral .npz with --weights FILE instead") from None


def pretrained(source: str) -> Path:
    """The cached neutral copy of a pretrained source, made on first use."""
    _, name = registry.pretrained_sources()[source]
    path = cache_dir() / name
    if path.is_file():
        return path
    try:
        with exclusive(path):  # a second run waits for the first one's download, then uses it
            if not path.is_file():
                weights = _needs_backend(f"downloading --weights {source}", registry.fetch_pretrained, source)
                save_npz(check_weights(weights, NUM_LAYERS - 1, f"--weights {source}"), path)
    except OSError as exc:
        raise WeightsError(f"cannot write the cache folder {path.parent}: {exc.strerror or exc}") from None
    return path


def check_spec(spec: str) -> None:
    """Cheap early check of ``--weights``, before any framework is imported."""
    if spec not in SOURCES and not Path(spec).expanduser().is_file():
        raise WeightsError(f"--weights {spec}: no such file; use imagenet, gluon, random or a .npz/.pth path")


def load_weights(spec: str, last_layer: int, seed: int = 0) -> Weights:
    """The neutral weights named by ``--weights``: a source name or a file path."""
    if spec == "random":
        return random_weights(seed, last_layer)
    if spec in registry.pretrained_sources():
        path = pretrained(spec)
        origin = f"cached --weights {spec} ({path}; delete it to download again)"
    else:
        path = Path(spec).expanduser()
        origin = str(path)
    return check_weights(read_file(path), last_layer, origin)
