"""torchvision's ImageNet VGG-19 (IMAGENET1K_V1) and ``.pth`` state dicts, as neutral arrays."""
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


def fetch(source: str, folder: Path) -> dict[str, np.ndarray]:
    """Download through torchvision's loader (into torch hub's own cache, hash checked, not
    ``folder``); torchvision's only VGG-19 weights are ``imagenet``."""
    weights = torchvision.models.VGG19_Weights.IMAGENET1K_V1
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torch.hub announces downloads on stdout
            state = weights.get_state_dict(progress=True)
    except Exception as exc:  # URLError, HTTP errors, a truncated file: all mean "no weights"
        raise WeightsError(
            f"cannot download torchvision's VGG-19 weights from {weights.url} ({short_reason(exc)}); "
            f"download that file once and pass --weights vgg19-dcbb9e9d.pth, or use --weights random "
            f"for a smoke run") from None
    return _features_only(state)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """A ``state_dict`` saved by torch.save, loaded without running any pickled code."""
    with warnings.catch_warnings():  # a refusal below says it in one line; torch's own warning would add two
        warnings.simplefilter("ignore")
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state_dict")
    return _features_only(state.get("state_dict", state))
