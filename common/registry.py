"""The backends by name, imported only when asked for (so that asking for PyTorch never
imports MXNet, and a missing framework costs nothing until it is requested)."""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from .errors import BackendUnavailable
from .interface import StyleBackend


@dataclass(frozen=True)
class BackendInfo:
    module: str  # the backend package, which imports its framework
    framework: str  # the framework's import name
    install: str  # what to run to get it


BACKENDS: dict[str, BackendInfo] = {
    "torch": BackendInfo("backends.torch", "torch", 'pip install -e ".[torch]"  (torch, torchvision)'),
    "mxnet": BackendInfo("backends.mxnet", "mxnet", 'pip install -e ".[mxnet]"  (mxnet==1.9.1, numpy<1.24, Python <= 3.11)'),
}


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def load_backend(name: str) -> type[StyleBackend]:
    """The backend class, or one clear line saying what to install."""
    info = BACKENDS.get(name)
    if info is None:
        raise BackendUnavailable(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if importlib.util.find_spec(info.framework) is None:
        raise BackendUnavailable(f"the {name} backend needs {info.framework}, which is not installed: {info.install}")
    try:
        module = importlib.import_module(info.module)
    except Exception as exc:  # e.g. MXNet 1.9.1 with NumPy >= 1.24: "module 'numpy' has no attribute 'bool'"
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise BackendUnavailable(
            f"the {name} backend's framework {info.framework} fails to import "
            f"({type(exc).__name__}: {first_line}): {info.install}") from None
    return module.Backend


def available(name: str) -> tuple[bool, str]:
    """(True, "") if the backend loads here, else (False, the reason)."""
    try:
        load_backend(name)
    except BackendUnavailable as exc:
        return False, str(exc)
    return True, ""
