"""scripts/bench.py and the FLOP count behind its GFLOP/s: the count against PyTorch's own FLOP
counter on a real step, a real run's report, and the clock waiting for queued work (checked with
work whose length is known, so that no test depends on this machine's speed or load; bench.py
itself reports how its stage times add up)."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import Schedule, TransferConfig
from common.registry import load_backend
from backends.threads import thread_count
from common.tools.bench.flops import step_flops
from common.tools.bench.processes import run_child
from common.tools.timing import time_steps
from common.transfer import transfer
from common.targets import compute_targets

from ..conftest import cpu_backend, require, synthetic_image, weights

ROOT = Path(__file__).resolve().parents[2]
BENCH_SIZE = (32, 48)


@functools.lru_cache(maxsize=None)
def counted_convolution_flops(size: tuple[int, int]) -> int:
    """Convolution FLOPs of one training step with frozen weights, as PyTorch's FlopCounterMode
    counts them from the shapes it really ran (forward and backward)."""
    require("torch")
    from torch.utils.flop_counter import FlopCounterMode

    backend = cpu_backend("torch")
    config = TransferConfig(size=size)
    init, targets = compute_targets(backend, synthetic_image(1, size), synthetic_image(2, size), config)
    backend.start(init, targets, config.loss_weights, config.adam, config.schedule.lr)
    with FlopCounterMode(display=False) as counter:
        backend.step()
    return sum(flops for op, flops in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))


@pytest.mark.parametrize("size", [(32, 48), (35, 50), (67, 45)])  # odd sides: the pools floor
def test_the_flop_count_is_what_pytorch_counts_in_a_step(size):
    # Only the convolutions: the Gram matrices (aten.mm) are not in the formula.
    assert step_flops(size, TransferConfig().last_layer) == counted_convolution_flops(size)


@pytest.fixture(scope="module")
def bench_runs(tmp_path_factory):
    """bench.py's JSON for each available backend at a tiny size (both configurations, 3 timed steps)."""
    def run(name: str) -> dict:
        out = tmp_path_factory.mktemp("bench") / "bench.json"
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--backends", name, "--sizes",
                               "x".join(map(str, BENCH_SIZE)), "--steps", "3", "--warmup", "1", "--device", "cpu",
                               "--json", str(out)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return {"stdout": proc.stdout, **json.loads(out.read_text())}
    return functools.lru_cache(maxsize=None)(run)


def test_bench_runs_both_configurations_and_reports_them(bench_runs, backend_name):
    numbers = bench_runs(backend_name)
    assert numbers["skipped"] == [] and backend_name in numbers["stdout"] and "GFLOP/s" in numbers["stdout"]
    chapter, project = numbers["results"]
    assert (chapter["configuration"], project["configuration"]) == ("unoptimized", "project fp32")
    assert chapter["execution"]["frozen"] is False and project["execution"]["frozen"] is True
    for result in (chapter, project):
        assert result["backend"] == backend_name and result["device"] == "cpu"
        assert result["size"] == list(BENCH_SIZE)  # height first: a swapped size would show here
        assert result["threads"] == str(thread_count())  # the framework's own count, in the worker process


def test_bench_numbers_hold_together(bench_runs, backend_name):
    for result in bench_runs(backend_name)["results"]:
        # the numerator: PyTorch's count of the same step, whichever backend ran it
        assert result["gflop_per_step"] * 1e9 == counted_convolution_flops(BENCH_SIZE)
        assert set(result["stages"]) == {"forward", "backward", "update"} and min(result["stages"].values()) > 0
        # the process holds at least the network's weights (float32, 20 M to relu5_1: 0.075 GiB)
        assert result["peak_rss_gib"] > 0.075
        assert "stage_sum_over_step" in result  # bench.py's own check of its clocks, reported


QUEUED = {"_forward": 0.03, "_backward": 0.02, "_update": 0.01}  # seconds of work each stage queues


def queued(backend):
    """The backend as an asynchronous engine would run it: each stage returns at once, its work
    (a known number of seconds) done when synchronize() waits for it."""
    pending = [0.0]
    for name, seconds in QUEUED.items():
        real = getattr(backend, name)

        def stage(*args, _real=real, _seconds=seconds):
            pending[0] += _seconds
            return _real(*args)

        setattr(backend, name, stage)

    def synchronize():
        time.sleep(pending[0])
        pending[0] = 0.0

    backend.synchronize = synchronize
    return backend


def test_the_clocks_wait_for_queued_work(backend_name):
    """Every clock read of the benchmark and of the training loop waits for the work first:
    without it MXNet's asynchronous engine once timed 3.7 ms a step instead of 38 (32x48)."""
    backend = queued(load_backend(backend_name)(weights(), last_layer=29, device="cpu"))
    config = TransferConfig(size=BENCH_SIZE, schedule=Schedule(steps=3))
    init, targets = compute_targets(backend, synthetic_image(1, BENCH_SIZE), synthetic_image(2, BENCH_SIZE), config)
    backend.start(init, targets, config.loss_weights, config.adam, config.schedule.lr)
    times = time_steps(backend, steps=3, warmup=1)
    for stage, seconds in zip(("forward", "backward", "update"), QUEUED.values()):
        assert times[stage] >= seconds, (stage, times)  # sleep never ends early: a bound load cannot break
    assert times["step"] >= sum(QUEUED.values())
    records = transfer(backend, *(synthetic_image(i, BENCH_SIZE) for i in (1, 2)), config).records
    assert all(r.seconds >= sum(QUEUED.values()) for r in records), [r.seconds for r in records]


def test_bench_bad_size_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "speed", "--sizes", "300by450"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "HxW" in proc.stderr


def test_run_child_gives_the_status_the_output_and_the_wall_time(capfd):
    """The one helper every child process of the tooling is started with: stderr kept, or passed
    through (a worker's progress reaches the user)."""
    code = "import sys, time; time.sleep(0.2); print('out'); print('err', file=sys.stderr); sys.exit(3)"
    child = run_child([sys.executable, "-c", code])
    assert (child.status, child.out, child.err) == (3, "out\n", "err\n") and child.seconds >= 0.2
    child = run_child([sys.executable, "-c", code], env={"PATH": ""}, own_stderr=True)
    assert child.status == 3 and child.err is None and "err" in capfd.readouterr().err
