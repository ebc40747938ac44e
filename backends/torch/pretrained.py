"""torchvision's ImageNet VGG-19 and VGG-16 (IMAGENET1K_V1) and ``.pth`` state dicts, as neutral arrays."""
from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision

from common.errors import WeightsError, short_reason


def _features_only(state: dict) -> dict[str, np.ndarray]:
    """The ``features.N.*`` arrays of a whole VGG's state dict, or of ``vgg19().features`` saved
    alone (keys ``N.weight``, ``N.bias``)."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from DataParallel
        if key.split(".")[0].isdigit():
            key = f"features.{key}"
        if key.startswith("features.") and isinstance(value, torch.Tensor):
            out[key] = value.detach().to(torch.float32).cpu().numpy()
    return out


def fetch(source: str, folder: Path, network: str) -> dict[str, np.ndarray]:
    """Download through torchvision's loader (into torch hub's own cache, hash checked, not
    ``folder``); torchvision's only VGG weights are ``imagenet``, IMAGENET1K_V1."""
    weights = {"vgg19": torchvision.models.VGG19_Weights, "vgg16": torchvision.models.VGG16_Weights}[network]
    weights = weights.IMAGENET1K_V1
    title = {"vgg19": "VGG-19", "vgg16": "VGG-16"}[network]
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torch.hub announces downloads on stdout
            state = weights.get_state_dict(progress=True)
    except Exception as exc:  # URLError, HTTP errors, a truncated file: all mean "no weights"
        raise WeightsError(
            f"cannot download torchvision's {title} weights from {weights.url} ({short_reason(exc)}); "
            f"download that file once and pass --weights {weights.url.rsplit('/', 1)[-1]}, or a Keras "
            f".h5 VGG file, or use --weights random for a smoke run") from None
    return _features_only(state)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """A ``state_dict`` saved by torch.save, loaded without running any pickled code."""
    with warnings.catch_warnings():  # a refusal below says it in one line; torch's own warning would add two
        warnings.simplefilter("ignore")
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state_dict")
    return _features_only(state.get("state_dict", state))
