"""The strict setting .ci/run uses: a backend or package that cannot be loaded fails the suite
instead of skipping, so a green CI means every backend ran. Checked on a throwaway test file
that asks for a backend and a module that do not exist."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from tests.conftest import require, require_module

def test_a_backend_that_is_not_there():
    require("no-such-backend")

def test_a_module_that_is_not_there():
    require_module("no_such_module_anywhere")
"""


@pytest.mark.parametrize("strict, outcome", [("1", "2 failed"), ("", "2 skipped"), ("0", "2 skipped")])
def test_strict_turns_the_skips_of_missing_backends_into_failures(tmp_path, strict, outcome):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = dict(os.environ, STYLE_TRANSFER_STRICT=strict, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(probe)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in proc.stdout, proc.stdout + proc.stderr
    if strict == "1":
        assert "STYLE_TRANSFER_STRICT is set and unknown backend 'no-such-backend'" in proc.stdout

