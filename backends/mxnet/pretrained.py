"""The Gluon model zoo's own pretrained VGG-19 and VGG-16, and Gluon ``.params`` files, as neutral
arrays keyed by torchvision names. The zoo's are other networks than torchvision's (trained
separately): same shapes, other numbers."""
from __future__ import annotations

import contextlib
import io
import sys
import warnings

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon.model_zoo import vision

from pathlib import Path

from common.errors import WeightsError, short_reason
from common.weights import keyed, natural_order


def fetch(source: str, folder: Path, network: str) -> dict[str, np.ndarray]:
    """Download through the Gluon model zoo into ``folder`` (its own VGGs, the only ones it offers: ``gluon``)."""
    root = folder / "mxnet-model-zoo"
    said = io.StringIO()
    try:
        # MXNet's downloader prints its progress and each retry on stdout: kept back, and shown
        # (on stderr, stdout is for results here) only when the download worked.
        with contextlib.redirect_stdout(said), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = {"vgg19": vision.vgg19, "vgg16": vision.vgg16}[network](pretrained=True, root=str(root))
        sys.stderr.write(said.getvalue())
    except Exception as exc:  # MXNet's downloader raises several kinds of errors offline
        raise WeightsError(f"cannot download the Gluon model zoo's {network} ({short_reason(exc)}); "
                           f"pass --weights FILE.npz, or use --weights random for a smoke run") from None
    return {f"features.{index}.{kind}": getattr(layer, kind).data().asnumpy()
            for index, layer in enumerate(net.features)
            if isinstance(layer, gluon.nn.Conv2D) for kind in ("weight", "bias")}


def _load(path: Path) -> dict:
    """The arrays of a ``save_parameters`` file. A file keeps the semantics it was saved under —
    legacy, or the chapter's ``npx.set_np()`` — and MXNet loads it only under the same ones:
    legacy first, then NumPy's (which loading wants switched on as set_np does), the caller's
    semantics restored. Arrays only: no code runs."""
    with mx.util.np_array(False), mx.util.np_shape(False):  # array semantics off before shape's
        try:
            return mx.nd.load(str(path))
        except mx.MXNetError as exc:
            if "np shape semantics" not in str(exc):
                raise
    was_on = mx.util.is_np_shape() and mx.util.is_np_array()
    mx.npx.set_np()
    try:
        return mx.npx.load(str(path))
    finally:
        if not was_on:
            mx.npx.reset_np()


def read_parameters(path: Path) -> dict[str, np.ndarray]:
    """A Gluon ``.params`` file (``save_parameters``: keys ``features.0.weight``, ...; or older
    prefixed names such as ``vgg0_conv0_weight``): its 3x3 convolutions in name order, each with
    the bias of the same name. Dense layers (whole models) are left out."""
    loaded = _load(path)
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path} holds a list of arrays without names, not a Gluon model's parameters")
    kernels = sorted((k for k, v in loaded.items() if v.ndim == 4 and tuple(v.shape[2:]) == (3, 3)),
                     key=natural_order)
    convs = []
    for key in kernels:
        bias = key[: -len("weight")] + "bias" if key.endswith("weight") else None
        if bias not in loaded:
            raise WeightsError(f"{path}: the convolution {key} has no bias beside it")
        convs.append((loaded[key].asnumpy(), loaded[bias].asnumpy()))
    return keyed(convs, str(path))
