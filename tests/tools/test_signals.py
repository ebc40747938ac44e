"""Ctrl-C and SIGTERM at the very start of a script: from its first instruction on, one line
and exit status 130, never a traceback or a silent death by the signal."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _caught(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (its SigCgt mask in /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except FileNotFoundError:
        pass
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads signal masks from /proc")
@pytest.mark.parametrize("script", ["run", "batch", "compare", "bench"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_script_imports_is_one_line_and_130(script, signum, tmp_path):
    child = subprocess.Popen([sys.executable, str(ROOT / "scripts" / f"{script}.py"), "--help"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             # pytest-xdist's workers may hand SIGINT down ignored: the child gets Python's default
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not _caught(child.pid, signal.SIGTERM) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    os.kill(child.pid, signum)  # the script's first instructions have run; its imports have barely begun
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err.splitlines() == [f"{script}.py: interrupted before any image was made; nothing written"]
