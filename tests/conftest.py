"""Fixtures shared by every test: the same tests run against every backend (and every
usable device), with seeded random weights and small synthetic images."""
from __future__ import annotations

import functools
import importlib
import os

import numpy as np
import pytest

from common.registry import available, backend_names, framework_tools, load_backend
from common.weights import random_weights

LAST_LAYER = 29  # relu5_1: the deepest default layer
SIZE = (40, 56)  # small, non-square: a height/width mix-up shows


@functools.lru_cache(maxsize=None)
def weights(seed: int = 0, last_layer: int = LAST_LAYER) -> dict:
    return random_weights(seed, last_layer)


@functools.lru_cache(maxsize=None)
def gpu_usable(name: str) -> tuple[bool, str]:
    status = framework_tools(name).gpu_status()
    return status.usable, status.detail


def _backend_params():
    """(name, "cpu") for every backend, plus (name, "gpu") where that framework can use a GPU;
    test_gpu_status says why a GPU is not used."""
    for name in backend_names():
        yield pytest.param((name, "cpu"), id=f"{name}-cpu")
        if available(name)[0] and gpu_usable(name)[0]:
            yield pytest.param((name, "gpu"), id=f"{name}-gpu")


@functools.lru_cache(maxsize=None)
def _make(name: str, device: str):
    return load_backend(name)(weights(), last_layer=LAST_LAYER, device=device)


# Under .ci/run (STYLE_TRANSFER_STRICT=1) a backend or package that is missing or fails to import
# fails its tests instead of skipping them: a green CI then means every backend was tested.
STRICT = os.environ.get("STYLE_TRANSFER_STRICT", "") not in ("", "0")


def unavailable(reason: str) -> None:
    if STRICT:
        pytest.fail(f"STYLE_TRANSFER_STRICT is set and {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str):
    """The module, or a skip (a failure under STYLE_TRANSFER_STRICT) saying what is missing."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # missing, or broken on import
        unavailable(f"{name} cannot be imported ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")


def require(name: str, device: str = "cpu") -> None:
    ok, reason = available(name)
    if not ok:
        unavailable(reason)
    if device == "gpu":
        usable, detail = gpu_usable(name)
        if not usable:
            pytest.skip(f"{name} has no usable GPU here: {detail}")


def pytest_generate_tests(metafunc):
    # The backends (and whether each has a GPU) are asked for only by tests that use the fixture:
    # importing this module imports no framework.
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", list(_backend_params()), indirect=True)


@pytest.fixture
def backend(request):
    """A backend instance with seeded random VGG-19 weights cut after relu5_1."""
    name, device = request.param
    require(name, device)
    return _make(name, device)


@pytest.fixture(params=backend_names())
def backend_name(request):
    require(request.param)
    return request.param


def cpu_backend(name: str):
    require(name)
    return _make(name, "cpu")


def synthetic_image(seed: int, size=SIZE, noise: float = 0.1) -> np.ndarray:
    """Smooth colour gradients plus optional noise, in 8-bit steps like a decoded file:
    structure for the features, no third-party files."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * xx + seed), np.cos(5 * yy - seed), np.sin(4 * (xx + yy))], axis=-1) * 0.35 + 0.5
    image = np.clip(base + noise * rng.standard_normal((h, w, 3)), 0, 1)
    return (np.round(image * 255) / 255).astype(np.float32)


@pytest.fixture
def images():
    return synthetic_image(1), synthetic_image(2)
