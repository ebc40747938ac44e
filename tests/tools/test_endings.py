"""Every way a run can end, end to end through scripts/run.py: Ctrl-C and SIGTERM (exit 130,
last image and checkpoint kept, and the resumed run equal to one never stopped), an image
that becomes NaN (exit 3), out of memory (exit 2, last good image kept), a side file or the
result that cannot be written, and the permissions of what is written."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import OutOfMemory, Overflow
from common.registry import load_backend
from common.tools.io.files import exclusive
from common.tools.cli import exits

from ..conftest import ROOT, script



def run(*cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def main(capsys, backend, content, style, *args) -> tuple[int, str, str]:
    """run.py in this process (the frameworks are loaded already): status, stdout, stderr."""
    status = script("run").main(["--backend", backend, "--content", str(content), "--style", str(style),
                              "--weights", "random", "--device", "cpu", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def log_losses(path: Path):
    return [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "elapsed")}
            for line in path.read_text().splitlines()]


def one_line(stderr: str, *, after_header: bool = True) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if after_header:  # the first line says which framework runs; the ending is one line after it
        lines = lines[1:]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


SIGNAL_FOR = {"torch": signal.SIGINT, "mxnet": signal.SIGTERM}  # each backend meets one of the two


def test_a_signal_mid_run_exits_130_and_the_resumed_run_equals_the_unbroken_one(backend_name, files, capsys):
    """A real signal to this process while run.py trains in it (its main thread, as in a terminal)."""
    tmp, content, style = files
    args = ("--size", 32, 48, "--steps", 60)
    status, _, err = main(capsys, backend_name, content, style, *args, "--output", tmp / "full.png",
                          "--log", tmp / "full.jsonl")
    assert status == 0, err

    log, ckpt, out = tmp / "cut.jsonl", tmp / "run.ckpt.npz", tmp / "cut.png"

    def signal_after_three_steps():
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().count("\n") >= 3) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(os.getpid(), SIGNAL_FOR[backend_name])

    watcher = threading.Thread(target=signal_after_three_steps)
    watcher.start()
    status, _, err = main(capsys, backend_name, content, style, *args, "--output", out, "--log", log,
                          "--checkpoint", ckpt, "--checkpoint-every", 1000)
    watcher.join()
    assert status == exits.INTERRUPTED == 130, err
    ending = one_line(err)
    assert f"interrupted ({SIGNAL_FOR[backend_name].name}) after" in ending and f"--resume {ckpt}" in ending
    cut = len(log.read_text().splitlines())
    assert 3 <= cut < 60 and out.is_file() and ckpt.is_file()

    status, _, err = main(capsys, backend_name, content, style, *args, "--output", out, "--log", log,
                          "--checkpoint", ckpt, "--resume", ckpt)
    assert status == 0, err
    assert f"resuming after step {cut}" in err
    assert log_losses(log) == log_losses(tmp / "full.jsonl")  # the resumed log holds the whole run
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(tmp / "full.png")))

    status, _, err = main(capsys, backend_name, content, style, "--size", 32, 48, "--steps", 60, "--lr", 0.1,
                          "--output", tmp / "x.png", "--resume", ckpt)
    assert status == 2 and "config.schedule.lr" in one_line(err, after_header=False)


def test_an_image_that_becomes_nan_exits_3_with_the_image_before_it(backend_name, files, capsys):
    # lr 1e39 overflows float32: MXNet's update makes the image inf and NaN, PyTorch refuses the step.
    tmp, content, style = files
    status, _, err = main(capsys, backend_name, content, style, "--size", 32, 48, "--steps", 1, "--lr", 1e39,
                          "--output", tmp / "out.png")
    assert status == exits.DIVERGED == 3, err
    assert "non-finite" in err or "overflowed" in err
    saved = np.asarray(Image.open(tmp / "out.png"), dtype=np.float32) / 255
    start = np.asarray(Image.open(content).resize((48, 32), Image.BILINEAR), dtype=np.float32) / 255
    assert np.abs(saved - start).max() <= 1 / 255  # the content image the only step started from


LIMITED = """
import resource, sys
sys.path[:0] = [{scripts!r}, {root!r}]
import numpy as np
import run
from common.registry import load_backend
from common.weights import random_weights
# The framework's libraries are mapped, and its worker threads started (MXNet's engine and
# OpenMP threads; a thread that cannot get its stack under the limit would abort the process),
# before the limit.
tiny = load_backend(sys.argv[1])(random_weights(0, 1), last_layer=1, device="cpu")
tiny.extract_features(tiny.preprocess(np.zeros((32, 32, 3), np.float32)), [1])
size = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, size + 2**30))  # 1 GiB more address space
sys.exit(run.main(["--backend", *sys.argv[1:]]))
"""


def test_out_of_memory_exits_2_with_the_last_good_image(backend_name, files):
    tmp, content, style = files
    script = LIMITED.format(scripts=str(ROOT / "scripts"), root=str(ROOT))
    # 50x75 fits in the extra gibibyte; 800x1200's targets do not.
    proc = run(sys.executable, "-c", script, backend_name, "--content", str(content), "--style", str(style),
               "--weights", "random", "--device", "cpu", "--size", "800", "1200", "--scales", "2",
               "--scale-factor", "16", "--scale-steps", "2", "--steps", "2", "--max-memory", "100",
               "--output", str(tmp / "out.png"))
    assert proc.returncode == exits.BAD_INPUT == 2, proc.stderr
    ending = one_line(proc.stderr)
    assert "out of memory at size 800x1200" in ending and "saved the 50x75 image" in ending
    assert Image.open(tmp / "out.png").size == (75, 50)


def test_a_snapshot_that_cannot_be_written_warns_once_and_the_run_goes_on(files, capsys):
    tmp, content, style = files
    for step in (1, 2, 3):
        (tmp / f"out_step000{step}.png").mkdir()  # a folder where each snapshot should go
    status, _, err = main(capsys, "torch", content, style, "--size", 32, 48, "--steps", 4, "--save-every", 1,
                          "--output", tmp / "out.png")
    assert status == 0, err
    assert err.count("warning: cannot write the snapshot") == 1 and "the run goes on" in err
    assert (tmp / "out.png").is_file() and (tmp / "out_step0004.png").is_file() is False


def test_a_result_that_cannot_be_written_is_one_line_and_the_checkpoint_survives(files, monkeypatch, capsys):
    run_script = script("run")
    from common.tools.cli import stylize

    def disk_full(image, path):
        raise OSError(28, "No space left on device")

    tmp, content, style = files
    monkeypatch.setattr(stylize, "save_image", disk_full)
    status = run_script.main(["--backend", "torch", "--content", str(content), "--style", str(style),
                              "--weights", "random", "--device", "cpu", "--size", "32", "48", "--steps", "2",
                              "--checkpoint", str(tmp / "c.npz"), "--output", str(tmp / "out.png")])
    assert status == 2
    ending = one_line(capsys.readouterr().err)
    assert "No space left on device" in ending and "--resume it" in ending and (tmp / "c.npz").is_file()


@pytest.mark.parametrize("where", ["picture loss", "colour finish"])
@pytest.mark.parametrize("signals", [1, 2])
def test_a_signal_after_the_last_step_keeps_the_finished_picture(files, monkeypatch, capsys, where, signals):
    """After the loop come the picture's loss (a whole step's time at a large size) and the colour
    finish: a SIGTERM there (or two: the second stops at once) still writes the picture, exit 130.
    It used to end in "interrupted before any image was made; nothing written"."""
    run_script = script("run")
    import common.colors
    from common.tools.cli import stylize

    def signalled(call):
        def wrapper(*args, **kwargs):
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGTERM)
            return call(*args, **kwargs)
        return wrapper

    torch_backend = load_backend("torch")
    if where == "picture loss":  # Adam's steps never evaluate: the picture's loss is the one call
        monkeypatch.setattr(stylize, "load_backend", lambda name: type(
            "Signalling", (torch_backend,), {"evaluate": signalled(torch_backend.evaluate)}))
    else:
        monkeypatch.setattr(common.colors, "finish", signalled(common.colors.finish))
    tmp, content, style = files
    status = run_script.main(["--backend", "torch", "--content", str(content), "--style", str(style),
                              "--weights", "random", "--device", "cpu", "--size", "32", "48", "--steps", "3",
                              "--preserve-colors", "luminance", "--output", str(tmp / "out.png")])
    assert status == exits.INTERRUPTED
    ending = one_line(capsys.readouterr().err)
    assert "interrupted" in ending and "nothing written" not in ending and "3" in ending
    assert Image.open(tmp / "out.png").size == (48, 32)


def test_run_main_makes_every_ending_one_line(capsys):
    from common.tools.cli.parsing import OneLineParser

    def interrupted(args):
        os.kill(os.getpid(), signal.SIGTERM)  # outside any training loop: a download, say
        time.sleep(5)
        return 0

    def out_of_memory(args):  # what a backend makes of its framework's failed allocation
        with load_backend("torch").errors():
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                               "memory: you tried to allocate 207360000 bytes.\nmore C++ lines")

    def bug(args):
        raise RuntimeError("an internal error")

    parser = OneLineParser(prog="x")
    before = signal.getsignal(signal.SIGTERM)  # Ray, started earlier in the suite, may have set its own
    assert exits.run_main("x", parser, interrupted, []) == 130
    assert exits.run_main("x", parser, out_of_memory, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "interrupted" in err and "can't allocate memory" in err
    with pytest.raises(RuntimeError):  # a bug keeps its traceback (status 1)
        exits.run_main("x", parser, bug, [])
    assert signal.getsignal(signal.SIGTERM) is before  # given back


def test_a_backend_says_its_framework_s_failures_in_neutral_words(backend_name):
    """A real failed allocation becomes OutOfMemory (a MemoryError, one line); anything else (a bug)
    passes through as the framework raised it."""
    cls = load_backend(backend_name)
    if backend_name == "torch":
        import torch

        with pytest.raises(OutOfMemory, match="can't allocate memory") as caught, cls.errors():
            torch.empty(2**50)  # 4 PiB: refused by the CPU allocator at once
        assert "\n" not in str(caught.value) and isinstance(caught.value, MemoryError)
        with pytest.raises(Overflow), cls.errors():  # a step size beyond float32's range
            x = torch.zeros(3, requires_grad=True)
            x.grad = torch.ones(3)
            optimizer = torch.optim.Adam([x], lr=1e39)
            optimizer.step()
    with pytest.raises(ValueError, match="an internal error"), cls.errors():
        raise ValueError("an internal error")


def test_results_get_the_permissions_open_would_give(files, capsys):
    tmp, content, style = files
    for mask in (0o022, 0o077):
        out = tmp / f"out{mask}.png"
        previous = os.umask(mask)
        try:
            status, _, err = main(capsys, "torch", content, style, "--size", 32, 48, "--steps", 1, "--output", out,
                                  "--log", tmp / f"log{mask}.jsonl", "--plot", tmp / f"plot{mask}.png",
                                  "--checkpoint", tmp / f"c{mask}.npz")
        finally:
            os.umask(previous)
        assert status == 0, err
        for path in (out, tmp / f"log{mask}.jsonl", tmp / f"plot{mask}.png", tmp / f"c{mask}.npz"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_the_cache_lock_lets_one_process_at_a_time_in(tmp_path):
    spans = []

    def hold():
        with exclusive(tmp_path / "weights.npz"):
            start = time.monotonic()
            time.sleep(0.3)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert b_start >= a_end  # the second waited for the first
