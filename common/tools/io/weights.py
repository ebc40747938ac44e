"""Where weights come from (``--weights``), as neutral arrays checked for the network:

- ``imagenet``: torchvision's IMAGENET1K_V1, downloaded once by torchvision's loader and
  kept converted in the cache, so later runs (and the MXNet backend) need no network and no torch.
- ``gluon``: the Gluon model zoo's own VGG-19, a different network trained separately.
- ``random``: seeded He-normal weights made with NumPy, identical for both backends.
- a path: a neutral ``.npz``, or a file in a framework's own format (a torchvision ``state_dict``
  ``.pth``), read by the backend whose framework knows it (``common.registry``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from common import registry
from common.errors import BackendUnavailable, UserError, WeightsError, one_line
from common.layers import NUM_LAYERS
from common.weights import Weights, check_weights, random_weights

from .downloads import cache_dir
from .files import atomic_path, exclusive

SOURCES = (*registry.pretrained_sources(), "random")


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
                weights = _needs_backend(f"downloading --weights {source}", registry.fetch_pretrained, source,
                                         cache_dir())
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
