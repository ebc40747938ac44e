"""scripts/bench.py and the FLOP count behind its GFLOP/s: the count against PyTorch's own FLOP
counter on a real step, and a real run's numbers against what a correct, synchronised benchmark
must give (no speed is asserted)."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import TransferConfig
from backends.threads import thread_count
from common.tools.bench.flops import step_flops
from common.tools.bench.timing import time_steps
from common.targets import compute_targets

from .conftest import cpu_backend, require, synthetic_image

ROOT = Path(__file__).resolve().parents[1]
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
    backend.start(init, targets, config.weights, config.adam, config.schedule.lr)
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
    assert (chapter["configuration"], project["configuration"]) == ("chapter", "project fp32")
    assert chapter["execution"]["frozen"] is False and project["execution"]["frozen"] is True
    for result in (chapter, project):
        assert result["backend"] == backend_name and result["device"] == "cpu"
        assert result["size"] == list(BENCH_SIZE)  # height first: a swapped size would show here
        assert result["threads"] == str(thread_count())  # the framework's own count, in the worker process


def test_bench_numbers_hold_together(bench_runs, backend_name):
    for result in bench_runs(backend_name)["results"]:
        # the numerator: PyTorch's count of the same step, whichever backend ran it
        assert result["gflop_per_step"] * 1e9 == counted_convolution_flops(BENCH_SIZE)
        stages, step = result["stages"], result["seconds_per_step"]
        assert set(stages) == {"forward", "backward", "update"} and min(stages.values()) > 0
        # Medians of parts and of wholes differ a little, but a stage left out of the step, or
        # work billed to the wrong clock, would not stay within this band.
        assert 0.5 < sum(stages.values()) / step < 2
        # VGG's forward and backward dwarf an Adam update of a 32x48 image (measured: 50x): stages
        # billed to the wrong name would show here.
        assert stages["update"] < 0.2 * min(stages["forward"], stages["backward"]), stages
        # the process holds at least the network's weights (float32, 20 M to relu5_1: 0.075 GiB)
        assert result["peak_rss_gib"] > 0.075
        assert result["setup_and_first_step_seconds"] > step  # set-up and the first step are not the timed median


def test_timed_steps_take_as_long_as_the_steps_really_do(backend_name):
    """The benchmark's clock waits for the work: without it MXNet's asynchronous engine returned
    after queueing, and its steps timed 3.7 ms instead of 38 (32x48, measured here)."""
    backend = cpu_backend(backend_name)
    config = TransferConfig(size=BENCH_SIZE)
    init, targets = compute_targets(backend, synthetic_image(1, BENCH_SIZE), synthetic_image(2, BENCH_SIZE), config)
    backend.start(init, targets, config.weights, config.adam, config.schedule.lr)
    timed = time_steps(backend, steps=5, warmup=1)["step"]
    backend.synchronize()
    start = time.perf_counter()
    for _ in range(5):
        backend.step()
    backend.synchronize()
    wall = (time.perf_counter() - start) / 5
    assert wall / 3 < timed < 3 * wall, (timed, wall)


def test_bench_bad_size_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--sizes", "300by450"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "HxW" in proc.stderr
