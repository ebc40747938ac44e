"""Lazy imports: common code imports no framework, and each backend imports only its own."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
{body}
loaded = sorted(m for m in ("torch", "torchvision", "mxnet") if m in sys.modules)
print(",".join(loaded))
"""


def imported_frameworks(body: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(filter(None, proc.stdout.strip().split(",")))


def test_common_imports_no_framework():
    body = ("import common.config, common.images, common.interface, common.layers, common.objective, "
            "common.registry, common.reporting, common.samples, common.transfer, common.weights, backends")
    assert imported_frameworks(body) == set()


def test_random_weights_need_no_framework():
    assert imported_frameworks("from common.weights import load_weights; load_weights('random', 29)") == set()


@pytest.mark.parametrize("name, own", [("torch", {"torch", "torchvision"}), ("mxnet", {"mxnet"})])
def test_a_backend_imports_only_its_framework(name, own):
    require(name)
    assert imported_frameworks(f"from common.registry import load_backend; load_backend({name!r})") == own


def _threads_after_loading(name: str, env_value: str | None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if env_value is not None:
        env["OMP_NUM_THREADS"] = env_value
    code = ("from common.registry import load_backend; from common.weights import random_weights; "
            f"b = load_backend({name!r})(random_weights(0, 1), last_layer=1, device='cpu'); "
            "print(b.environment()['threads'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_every_core_is_used_unless_the_user_says_otherwise(name):
    import os

    require(name)
    cores = str(len(os.sched_getaffinity(0)))
    assert _threads_after_loading(name, None) == cores
    assert _threads_after_loading(name, "1") == "1"
