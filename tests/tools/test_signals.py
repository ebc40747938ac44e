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


@pytest.fixture
def restored_signals():
    """The test changes this process's handlers and entry's note of a signal: both put back."""
    from common.tools import entry
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield entry
    entry._signalled = False
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _swallowed(signum):
    """Deliver ``signum`` to this process inside a weakref callback, where Python prints the
    handler's KeyboardInterrupt as "Exception ignored" and goes on, as the import system's can."""
    import weakref

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _: signal.raise_signal(signum))  # kept: a dead ref calls nothing
    del thing  # the callback runs here; its exception never reaches this frame
    assert ref() is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_swallowed_during_the_imports_stops_the_program_when_it_takes_over(restored_signals, capsys):
    from common.tools.cli.signals import Stop
    restored_signals.guard()
    _swallowed(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with Stop():
            pytest.fail("the program went on after a signal")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_program_that_returns_after_a_swallowed_signal_still_ends_as_interrupted(restored_signals, capsys,
                                                                                     tmp_path, monkeypatch):
    (tmp_path / "swallowing.py").write_text(
        "import signal, weakref\n"
        "class Thing: pass\n"
        "def main():\n"
        "    thing = Thing()\n"
        "    ref = weakref.ref(thing, lambda _: signal.raise_signal(signal.SIGINT))\n"
        "    del thing\n"
        "    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert restored_signals.start("prog", "swallowing") == 130
    assert capsys.readouterr().err.splitlines()[-1] == "prog: interrupted before any image was made; nothing written"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_swallowed_before_deferring_stops_the_run_before_its_first_step(restored_signals):
    from common.tools.cli.signals import Stop
    with Stop() as stop:
        _swallowed(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            stop.defer()
