"""Where weights come from (``--weights``), as neutral arrays checked for their network:

- ``imagenet``: torchvision's IMAGENET1K_V1 VGG-19 or VGG-16 (``--network``), downloaded once by
  torchvision's loader and kept converted in the cache, so later runs (and the MXNet backend)
  need no network and no torch.
- ``gluon``: the Gluon model zoo's own VGG-19 or VGG-16, other networks trained separately.
- ``random``: seeded He-normal weights made with NumPy, identical for both backends.
- a file: a neutral ``.npz``; a torchvision ``state_dict`` (``.pth``, ``.pt``) or a Gluon
  ``.params`` file, read by the backend whose framework knows the format (``common.registry``);
  a Keras ``.h5`` file (``keras.py``, with h5py).

A file says which network it holds by its number of convolutions (13: VGG-16, 16: VGG-19); its
input convention is the format's (torchvision's and Gluon's VGGs: ImageNet-standardised RGB;
Keras': Caffe's), a neutral file's own record, or ``--weights-convention`` for files that say
nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from common import registry
from common.conventions import CAFFE, TORCHVISION, InputConvention, convention
from common.errors import BackendUnavailable, UserError, WeightsError, one_line
from common.layers import NETWORKS, VGG16, VGG19, Network
from common.weights import Weights, check_weights, conv_indices, keyed, network_of, random_weights

from .downloads import cache_dir
from .files import atomic_path, exclusive
from .keras import read_keras

SOURCES = (*registry.pretrained_sources(), "random")
FORMATS = ".npz (neutral), .pth/.pt (torchvision state_dict), .params (Gluon), .h5 (Keras)"
# A neutral file's record of what it holds (0-d text arrays beside the weights).
NETWORK_KEY, CONVENTION_KEY = "__network__", "__convention__"


def save_npz(weights: Mapping[str, np.ndarray], path: Path) -> Path:
    """A neutral file; for ``Weights``, with their network and convention recorded."""
    arrays = dict(weights)
    if isinstance(weights, Weights):
        arrays.update({NETWORK_KEY: np.array(weights.network.name), CONVENTION_KEY: np.array(weights.convention.name)})
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return path


def read_file(path: Path) -> tuple[Mapping[str, np.ndarray], InputConvention, bool]:
    """A weights file's neutral arrays, its input convention, and whether the file records it (a
    neutral file can) or only its format suggests it (``--weights-convention`` may say otherwise)."""
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (use imagenet, gluon, random or a {FORMATS} file)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            recorded = arrays.pop(CONVENTION_KEY, None)
            arrays.pop(NETWORK_KEY, None)  # the arrays themselves say it
            if recorded is None:
                return arrays, TORCHVISION, False
            return arrays, convention(str(recorded)), True
        if suffix == ".h5":
            return keyed(read_keras(path), str(path)), CAFFE, False  # Keras' VGG files are Caffe-trained
        reader = _needs_backend(f"reading a {suffix} file", registry.weight_file_reader, path)
        if reader is not None:  # torchvision's and Gluon's formats: their VGGs take ImageNet-standardised RGB
            return reader(path), TORCHVISION, False
    except UserError:
        raise
    except Exception as exc:  # a damaged file raises whatever its parser raises
        raise WeightsError(f"cannot read weights file {path}: {one_line(exc)}") from None
    raise WeightsError(f"weights file {path} must be one of: {FORMATS}")


def _needs_backend(purpose: str, call, *args):
    """``call(*args)``, with a missing framework turned into a WeightsError that says what to pass."""
    try:
        return call(*args)
    except BackendUnavailable as exc:
        raise WeightsError(f"{purpose} needs another framework ({exc}); "
                           f"pass a neutral .npz with --weights FILE instead") from None


def pretrained(source: str, network: Network) -> Path:
    """The cached neutral copy of a pretrained source, made on first use."""
    path = cache_dir() / registry.pretrained_sources()[source][1].format(network=network.name)
    if path.is_file():
        return path
    try:
        with exclusive(path):  # a second run waits for the first one's download, then uses it
            if not path.is_file():
                arrays = _needs_backend(f"downloading --weights {source}", registry.fetch_pretrained, source,
                                        cache_dir(), network.name)
                save_npz(check_weights(arrays, network, TORCHVISION, f"--weights {source}"), path)
    except OSError as exc:
        raise WeightsError(f"cannot write the cache folder {path.parent}: {exc.strerror or exc}") from None
    return path


def check_spec(spec: str) -> None:
    """Cheap early check of ``--weights``, before any framework is imported."""
    if spec not in SOURCES and not Path(spec).expanduser().is_file():
        raise WeightsError(f"--weights {spec}: no such file; use imagenet, gluon, random or a {FORMATS} file")


def load_weights(spec: str, network: Optional[str] = None, seed: int = 0,
                 convention_name: Optional[str] = None) -> Weights:
    """The weights ``--weights`` names: a source, for ``network`` (VGG-19 when not given), or a
    file, whose own network ``network`` must match when given. ``convention_name`` overrides the
    input convention of a file that does not record one."""
    asked = NETWORKS[network] if network else None
    if spec == "random":
        weights = random_weights(seed, network=asked or VGG19)
        return _with_convention(weights, TORCHVISION, False, convention_name, "--weights random")
    if spec in registry.pretrained_sources():
        path = pretrained(spec, asked or VGG19)
        origin = f"cached --weights {spec} ({path}; delete it to download again)"
    else:
        path = Path(spec).expanduser()
        origin = str(path)
    arrays, implied, recorded = read_file(path)
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
    checked = check_weights(arrays, found, TORCHVISION, origin, last_layer=max(conv_indices(arrays)))
    return _with_convention(checked, implied, recorded, convention_name, origin)


def _with_convention(weights: Weights, implied: InputConvention, recorded: bool, asked: Optional[str],
                     origin: str) -> Weights:
    """The weights in ``asked``'s convention, else the one their file implies; a convention the
    file records is not overridden."""
    if asked is not None and recorded and asked != implied.name:
        raise WeightsError(f"{origin} records {implied.name}'s input convention, not {asked}: leave "
                           f"--weights-convention out")
    weights.convention = convention(asked) if asked else implied
    return weights


def described(spec: str, network: Optional[str] = None, seed: int = 0,
              convention_name: Optional[str] = None) -> Weights:
    """What ``--weights`` names, cheaply: a source's network and convention without its arrays
    (the workers of a batch fetch those themselves); a file, read and checked whole."""
    if spec in SOURCES:
        return _with_convention(Weights(network=NETWORKS[network] if network else VGG19), TORCHVISION, False,
                                convention_name, f"--weights {spec}")
    return load_weights(spec, network, seed, convention_name)
