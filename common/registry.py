"""The backends by name, imported only when asked for (so that asking for PyTorch never
imports MXNet, and a missing framework costs nothing until it is requested).

Besides the backend classes, the registry hands out each backend's ``tools`` module
(``framework_tools``): what only its framework can do but the computation does not need — whether
a GPU works, free and peak device memory, versions and settings for reports, pretrained weights
from its model zoo, weight files in its own format (torchvision's ``.pth``, Gluon's ``.params``),
the chapter's image reader — so that the rest of ``common/`` can ask for those by what they are,
never by a backend's module name.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Optional

import numpy as np

from .errors import BackendUnavailable
from .interface import StyleBackend
from .terms import LossTerms


@dataclass(frozen=True)
class BackendInfo:
    module: str  # the backend package, which imports its framework
    framework: str  # the framework's import name
    install: str  # what to run to get it
    python_max: tuple[int, int] = (99, 0)  # the newest Python its framework has wheels for
    pretrained: dict[str, str] = field(default_factory=dict)  # --weights source -> cache file name ({network})
    weight_files: tuple[str, ...] = ()  # file suffixes its framework's own weight format uses


BACKENDS: dict[str, BackendInfo] = {
    "torch": BackendInfo("backends.torch", "torch", 'pip install -e ".[torch]"  (torch, torchvision)',
                         pretrained={"imagenet": "{network}-imagenet1k-v1.npz"}, weight_files=(".pth", ".pt")),
    "mxnet": BackendInfo("backends.mxnet", "mxnet", 'pip install -e ".[mxnet]"  (mxnet==1.9.1, numpy<1.24, Python <= 3.11)',
                         python_max=(3, 11), pretrained={"gluon": "{network}-gluon-model-zoo.npz"},
                         weight_files=(".params",)),
}


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def load_backend(name: str) -> type[StyleBackend]:
    """The backend class, or one clear line saying what to install."""
    info = BACKENDS.get(name)
    if info is None:
        raise BackendUnavailable(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if sys.version_info[:2] > info.python_max:
        raise BackendUnavailable(
            f"the {name} backend needs Python <= {'.'.join(map(str, info.python_max))} (its framework's last "
            f"release has no wheels for Python {sys.version_info[0]}.{sys.version_info[1]}, so .[all] leaves it out)")
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


def framework_tools(name: str) -> ModuleType:
    """The backend's ``tools`` module (``backends/<name>/tools.py``): what the tooling asks of its
    framework besides the computation. Imports the framework now; raises BackendUnavailable as
    load_backend does."""
    load_backend(name)  # the checks and the one clear line when the framework is missing
    return importlib.import_module(f"{BACKENDS[name].module}.tools")


def free_gpu_memory_gib(name: str) -> Optional[float]:
    """GiB free on the GPU the ``name`` backend would use, asked before anything is built (the
    memory check); None where there is no GPU, the framework cannot say, or the backend is not
    available here (an unknown name raises BackendUnavailable)."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    try:
        tools = framework_tools(name)
    except BackendUnavailable:
        return None
    return tools.free_gpu_memory_gib()


def available(name: str) -> tuple[bool, str]:
    """(True, "") if the backend loads here, else (False, the reason)."""
    try:
        load_backend(name)
    except BackendUnavailable as exc:
        return False, str(exc)
    return True, ""


def pretrained_sources() -> dict[str, tuple[str, str]]:
    """Every pretrained ``--weights`` source: name -> (backend that fetches it, cache file name)."""
    return {source: (name, cache) for name, info in BACKENDS.items() for source, cache in info.pretrained.items()}


def fetch_pretrained(source: str, folder: Path, network: str) -> dict[str, np.ndarray]:
    """Download ``source``'s ``network`` with the framework whose model zoo has it (imported only now)."""
    backend, _ = pretrained_sources()[source]
    return framework_tools(backend).fetch_pretrained(source, folder, network)


def weight_file_reader(path: Path) -> Optional[Callable[[Path], dict[str, np.ndarray]]]:
    """The function of the framework that reads ``path``'s format (by suffix): path -> neutral
    arrays (VGG-16's or VGG-19's convolutions keyed by their ``features`` index); None if no
    framework does; raises BackendUnavailable when that backend's framework is missing."""
    for name, info in BACKENDS.items():
        if path.suffix.lower() in info.weight_files:
            return framework_tools(name).read_weights_file
    return None


def timed_step(backend: StyleBackend) -> tuple[LossTerms[float], dict[str, float]]:
    """One training step of a started backend, timed stage by stage (forward, backward, update),
    waiting for the work after each: ``backends.timing`` (framework-free, imported only now)."""
    return importlib.import_module("backends.timing").timed_step(backend)


def default_threads() -> int:
    """The threads every backend's framework runs when OMP_NUM_THREADS says nothing: the cores this
    process may use. Asked of ``backends.threads`` (framework-free, imported only now) so that the
    tooling's reports and worker counts use the backends' own number."""
    return importlib.import_module("backends.threads").available_cores()
