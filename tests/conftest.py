"""Fixtures shared by every test: the same tests run against every backend (and every
usable device), with seeded random weights and small synthetic images."""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.registry import available, backend_names, framework_tools, load_backend
from common.weights import random_weights

ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture
def files(tmp_path):
    """A content PNG and a style JPEG on disk, for the scripts: (folder, content, style)."""
    from PIL import Image

    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    Image.fromarray((synthetic_image(1, (60, 80)) * 255).astype(np.uint8)).save(content)
    Image.fromarray((synthetic_image(2, (50, 50)) * 255).astype(np.uint8)).save(style)
    return tmp_path, content, style


# -- the one runner of the scripts ---------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def script(name: str):
    """scripts/<name>.py as a module (its ``main`` and ``build_parser``), loaded once."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process(name: str, *args, cwd=None) -> subprocess.CompletedProcess:
    """scripts/<name>.py's main in this process (its frameworks already loaded: seconds faster than
    a new one), in ``cwd``, with what it prints captured as a child's would be."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd or here)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = script(name).main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own refusals and --help
                status = exc.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def as_child(name: str, *args, cwd, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """scripts/<name>.py in a process of its own (for what one process cannot show: signals,
    imports, the environment), its cache in ``cwd`` unless ``env`` says otherwise."""
    environment = dict(os.environ, **(env or {}))
    environment.setdefault("STYLE_TRANSFER_CACHE", str(Path(cwd) / "cache"))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *map(str, args)], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)
