"""The thread count each framework really uses, asked of the framework (or its OpenMP runtime),
and odd values of OMP_NUM_THREADS: empty, words or zero are treated as unset with one warning."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.threads import available_cores

from ..conftest import require

ROOT = Path(__file__).resolve().parents[2]

# Build the backend (where its settings are made), then ask the framework, not this project:
# torch.get_num_threads(); MXNet has no getter, so the OpenMP runtime it loaded is asked directly.
BUILD = ("from common.registry import load_backend; from common.weights import random_weights; "
         "import numpy as np; b = load_backend({name!r})(random_weights(0, 1), last_layer=1, device='cpu'); "
         "b.extract_features(b.preprocess(np.zeros((32, 32, 3), np.float32)), [1]); ")
ASK = {
    "torch": BUILD.format(name="torch") + "import torch; print(torch.get_num_threads())",
    "mxnet": BUILD.format(name="mxnet") + "import ctypes; print(ctypes.CDLL('libgomp.so.1').omp_get_max_threads())",
}


def threads(name: str, omp: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    return subprocess.run([sys.executable, "-c", ASK[name]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("omp, expected", [(None, available_cores()), ("3", 3)])
def test_the_framework_uses_the_threads_asked_for_or_every_core(backend_name, omp, expected):
    proc = threads(backend_name, omp)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) == expected
    assert "warning" not in proc.stderr.lower().replace("deprecationwarning", "")


@pytest.mark.parametrize("omp, expected", [("", None), ("abc", None), ("0", None), ("-2", None), ("2.5", None),
                                           ("4", 4), ("4,2", 4), (" 3", 3)])
def test_omp_num_threads_reads_as_a_positive_whole_number_or_unset(monkeypatch, capsys, omp, expected):
    from backends import threads as module

    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    monkeypatch.setattr(module, "_warned", set())
    assert module.omp_threads() == expected and module.omp_threads() == expected
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == (expected is None) and all("treated as unset" in line for line in warnings)


@pytest.mark.parametrize("omp", ["", "abc"])
def test_an_unusable_omp_num_threads_is_unset_with_one_warning(backend_name, omp):
    """MXNet 1.9.1 alone aborts on OMP_NUM_THREADS=abc ("dmlc::ParamError", measured) and libgomp
    complains about "" on its own line; the project says it once, and the backend builds and runs
    on every core. (Other unusable values take the same path: the test above.)"""
    proc = threads(backend_name, omp)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) == available_cores()
    lines = [line for line in proc.stderr.splitlines() if "OMP_NUM_THREADS" in line]
    assert len(lines) == 1 and "treated as unset" in lines[0], proc.stderr  # not libgomp's own complaint too


def test_a_run_reports_the_framework_s_own_count(backend_name, tmp_path):
    require(backend_name)
    from common.registry import framework_tools

    from ..conftest import cpu_backend

    assert framework_tools(backend_name).environment(cpu_backend(backend_name))["threads"] == str(available_cores())
