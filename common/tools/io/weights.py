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

Every file is checked from its headers before any array is read and before a framework is
imported (``npz.py``, ``keras.py``, ``pth_headers.py``, ``params_headers.py``): the network its
convolutions make, each array's shape and dtype, and the bytes its reader would allocate, at
most ``MAX_DECLARED``: a whole VGG-19 (convolutions and classifier: 548 MiB in float32, what
torchvision's, Gluon's and Keras' whole-model files hold) fits with room; its features alone
are 76 MiB. Only then is the file read, and of a neutral or Keras file only the arrays the
network needs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from common import registry
from common.conventions import CAFFE, TORCHVISION, InputConvention, convention
from common.errors import BackendUnavailable, UserError, WeightsError, one_line, shown
from common.layers import NETWORKS, VGG19, Network
from common.weights import (Header, Weights, check_declared, check_weights, deepest, keyed, named_convs,
                            nbytes, network_held, random_weights)

from . import npz
from .downloads import cache_dir
from .files import atomic_path, exclusive
from .params_headers import gluon_headers
from .pth_headers import torch_headers
from .keras import read_keras

SOURCES = (*registry.pretrained_sources(), "random")
FORMATS = ".npz (neutral), .pth/.pt (torchvision state_dict), .params (Gluon), .h5 (Keras)"
# A neutral file's record of what it holds (0-d text arrays beside the weights).
NETWORK_KEY, CONVENTION_KEY = "__network__", "__convention__"
MAX_DECLARED = 2**30  # bytes a weights file's reader may allocate: see the docstring


def save_npz(weights: Mapping[str, np.ndarray], path: Path) -> Path:
    """A neutral file; for ``Weights``, with their network and convention recorded."""
    arrays = dict(weights)
    if isinstance(weights, Weights):
        arrays.update({NETWORK_KEY: np.array(weights.network.name), CONVENTION_KEY: np.array(weights.convention.name)})
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return path


def read_file(path: Path, asked: Optional[Network] = None, origin: Optional[str] = None
              ) -> tuple[Mapping[str, np.ndarray], InputConvention, bool]:
    """A weights file's neutral arrays (those of the network its convolutions make, ``asked``
    when given), its input convention, and whether the file records it (a neutral file can) or
    only its format suggests it (``--weights-convention`` may say otherwise). What its headers
    declare is checked (``check_headers``) before an array is read or a framework imported."""
    origin = origin or shown(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {shown(path)} (use imagenet, gluon, random or a {FORMATS} file)")
    suffix = path.suffix.lower()
    what = f"cannot read weights file {shown(path)}"
    try:
        if suffix == ".npz":
            return _read_npz(path, asked, origin, what)
        if suffix == ".h5":  # Keras' VGG files are Caffe-trained
            return read_keras(path, lambda declared: check_headers(declared, asked, origin)), CAFFE, False
        if suffix in (".pth", ".pt"):
            declared, allocated = torch_headers(path, what)
        elif suffix == ".params":
            names, allocated = gluon_headers(path, what)
            pairs = named_convs({key: shape for key, (shape, _dtype) in names.items()}, origin)
            declared = keyed([(names[kernel], names[bias]) for kernel, bias in pairs], origin)
        else:
            raise WeightsError(f"weights file {shown(path)} must be one of: {FORMATS}")
        check_headers(declared, asked, origin, allocated)
        # Only now the framework: torchvision's and Gluon's VGGs take ImageNet-standardised RGB.
        reader = _needs_backend(f"reading a {suffix} file", registry.weight_file_reader, path)
        return reader(path), TORCHVISION, False
    except UserError:
        raise
    except Exception as exc:  # a damaged file raises whatever its parser raises
        raise WeightsError(f"{what}: {shown(one_line(exc))}") from None


def check_headers(declared: Mapping[str, Header], asked: Optional[Network], origin: str,
                  allocated: Optional[int] = None) -> dict[str, Header]:
    """The headers of the arrays the declared network needs (as far as the first missing one:
    ``check_declared``), after the network (``asked`` when given), their shapes and dtypes, and
    the bytes the file's reader will allocate (``allocated``; by default those arrays' own) are
    checked."""
    network = network_held(declared, asked, origin)
    needed = {key: declared[key] for key in check_declared(declared, network, origin, last_layer=deepest(declared))}
    total = sum(map(nbytes, needed.values())) if allocated is None else allocated
    if total > MAX_DECLARED:
        raise WeightsError(f"{origin} declares {total / 2**20:,.0f} MiB of arrays, more than the "
                           f"{MAX_DECLARED / 2**20:,.0f} MiB a VGG's weights file may hold: refused before reading it")
    return needed


def _read_npz(path: Path, asked: Optional[Network], origin: str, what: str
              ) -> tuple[Mapping[str, np.ndarray], InputConvention, bool]:
    """A neutral file: of its members only those its network needs, and its recorded convention."""
    headers = npz.headers(path)
    records = {key: headers.pop(key) for key in (NETWORK_KEY, CONVENTION_KEY) if key in headers}
    for key, (_shape, dtype) in headers.items():  # before its shape: reading it would unpickle
        if key.startswith("features.") and dtype.hasobject:
            raise WeightsError(f"{what}: {key} holds Python objects, which are never unpickled")
    names = {key: (lambda header: None) for key in check_headers(headers, asked, origin)}
    if CONVENTION_KEY in records:  # a 0-d text array, of a name's length
        names[CONVENTION_KEY] = lambda header: (None if header[0] == () and header[1].kind == "U"
                                                and header[1].itemsize <= 256 else "is not a convention's name")
    arrays = npz.read(path, names, what, MAX_DECLARED)
    recorded = arrays.pop(CONVENTION_KEY, None)
    if recorded is None:
        return arrays, TORCHVISION, False
    return arrays, convention(str(recorded)), True


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
        origin = f"cached --weights {spec} ({shown(path)}; delete it to download again)"
    else:
        path = Path(spec).expanduser()
        origin = shown(path)
    arrays, implied, recorded = read_file(path, asked, origin)
    found = network_held(arrays, asked, origin)
    checked = check_weights(arrays, found, TORCHVISION, origin, last_layer=deepest(arrays))
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
