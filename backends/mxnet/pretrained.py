"""The Gluon model zoo's own pretrained VGG-19, as neutral arrays keyed by torchvision names.
It is a different network from torchvision's (trained separately): same shapes, other numbers."""
from __future__ import annotations

import contextlib
import io
import sys
import warnings

import numpy as np
from mxnet import gluon
from mxnet.gluon.model_zoo import vision

from pathlib import Path

from common.errors import WeightsError, short_reason


def fetch(source: str, folder: Path) -> dict[str, np.ndarray]:
    """Download through the Gluon model zoo into ``folder`` (its own VGG-19, the only one it offers: ``gluon``)."""
    root = folder / "mxnet-model-zoo"
    said = io.StringIO()
    try:
        # MXNet's downloader prints its progress and each retry on stdout: kept back, and shown
        # (on stderr, stdout is for results here) only when the download worked.
        with contextlib.redirect_stdout(said), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = vision.vgg19(pretrained=True, root=str(root))
        sys.stderr.write(said.getvalue())
    except Exception as exc:  # MXNet's downloader raises several kinds of errors offline
        raise WeightsError(f"cannot download the Gluon model zoo's VGG-19 ({short_reason(exc)}); "
                           f"pass --weights FILE.npz, or use --weights random for a smoke run") from None
    return {f"features.{index}.{kind}": getattr(layer, kind).data().asnumpy()
            for index, layer in enumerate(net.features)
            if isinstance(layer, gluon.nn.Conv2D) for kind in ("weight", "bias")}
