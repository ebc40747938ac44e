"""Each way of running a backend computes the same losses: the chapter's configuration,
the optimized one, bf16 (within its rounding) and, for PyTorch, torch.compile; each backend runs
with its own process-wide settings (threads, cudnn.benchmark) whatever is built after it; and an
unusable OMP_NUM_THREADS is treated as unset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.config import Schedule, TransferConfig

from common.execution import Execution
from common.errors import BackendUnavailable, ConfigError
from common.registry import framework_tools, load_backend
from common.targets import compute_targets
from common.transfer import transfer

from .. import probes
from ..conftest import LAST_LAYER, SIZE, cpu_backend, require, synthetic_image, weights

ROOT = Path(__file__).resolve().parents[2]


def _make(name: str, execution: Execution):
    require(name)
    return load_backend(name)(weights(), last_layer=LAST_LAYER, device="cpu", execution=execution)


def _loss_and_grad(backend):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, synthetic_image(1), synthetic_image(2), config)
    x = init + 0.2 * np.random.default_rng(6).standard_normal(init.shape).astype(np.float32)
    backend.use_targets(targets, config.loss_weights)
    return backend.evaluate(x)


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_chapter_and_optimized_executions_agree(name):
    fast, chapter = _make(name, Execution()), _make(name, Execution.unoptimized())
    (terms_f, grad_f), (terms_c, grad_c) = _loss_and_grad(fast), _loss_and_grad(chapter)
    assert terms_f.total == pytest.approx(terms_c.total, rel=1e-5)
    assert np.abs(grad_f - grad_c).max() <= 1e-5 * np.abs(grad_c).max()
    assert probes.weight_gradients_enabled(chapter) and not probes.weight_gradients_enabled(fast)


def test_torch_bf16_stays_within_two_percent_of_fp32():
    fp32, bf16 = _make("torch", Execution()), _make("torch", Execution(precision="bf16"))
    (t32, g32), (t16, g16) = _loss_and_grad(fp32), _loss_and_grad(bf16)
    for name in ("content", "style", "tv", "total"):
        assert getattr(t16, name) == pytest.approx(getattr(t32, name), rel=0.02), name
    cosine = float((g16 * g32).sum() / np.linalg.norm(g16) / np.linalg.norm(g32))
    assert cosine > 0.99
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=20))
    final32 = transfer(fp32, synthetic_image(1), synthetic_image(2), config).records[-1].total
    final16 = transfer(bf16, synthetic_image(1), synthetic_image(2), config).records[-1].total
    assert final16 == pytest.approx(final32, rel=0.02)


def test_mxnet_refuses_bf16_in_one_line():
    require("mxnet")
    with pytest.raises(BackendUnavailable, match="fp32 only"):
        _make("mxnet", Execution(precision="bf16"))


def test_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="^precision must be one of fp32, bf16, not fp8$"):
        Execution(precision="fp8").validate()


# -- process-wide settings: each backend runs with its own, whoever was built after it ----------

class FrameworkSettingsSeen:
    """What PyTorch's process-wide settings are while a module actually runs: recorded by a
    global forward hook, so a test sees the work's settings, not what a backend says they are."""

    def __init__(self):
        import torch

        self.seen: list[tuple[int, bool]] = []
        self._handle = torch.nn.modules.module.register_module_forward_pre_hook(
            lambda module, args: self.seen.append((torch.get_num_threads(), torch.backends.cudnn.benchmark)))

    def during(self, work) -> set[tuple[int, bool]]:
        self.seen.clear()
        work()
        assert self.seen, "no module ran"
        return set(self.seen)

    def close(self):
        self._handle.remove()


def _torch_built_with(monkeypatch, threads: int, execution: Execution, device: str = "cpu"):
    monkeypatch.setenv("OMP_NUM_THREADS", str(threads))  # read when the backend is built
    return load_backend("torch")(weights(), last_layer=LAST_LAYER, device=device, execution=execution)


def _features(backend):
    return lambda: backend.extract_features(backend.preprocess(synthetic_image(1)), [1])


def _one_step(backend):
    def run():
        transfer(backend, synthetic_image(1), synthetic_image(2), TransferConfig(size=SIZE, schedule=Schedule(steps=1)))
    return run


@pytest.fixture
def settings_seen():
    require("torch")
    import torch

    threads, benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    seen = FrameworkSettingsSeen()
    yield seen
    seen.close()
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = benchmark


def test_torch_s_process_wide_threads_are_set_once_by_the_backend_made_last(monkeypatch, settings_seen):
    """Threads are PyTorch's process-wide setting: applied when a backend is made, not re-applied at
    every call, so two PyTorch backends in one process both run with the last one's."""
    first = _torch_built_with(monkeypatch, 1, Execution())
    second = _torch_built_with(monkeypatch, 3, Execution(optimized=False))  # sets 3 for the whole process
    for backend in (first, second):
        assert {t for t, _ in settings_seen.during(_features(backend))} == {3}
        assert {t for t, _ in settings_seen.during(_one_step(backend))} == {3}
        assert framework_tools("torch").environment(backend)["threads"] == "3"


def test_mxnet_reports_the_threads_its_engine_runs_with_whatever_torch_sets(monkeypatch, settings_seen):
    """MXNet's operators run on its engine's worker thread, whose OpenMP count is fixed when MXNet
    loads; torch.set_num_threads changes the calling thread's count only."""
    mxnet = cpu_backend("mxnet")
    own = framework_tools("mxnet").environment(mxnet)["threads"]
    torch_backend = _torch_built_with(monkeypatch, int(own) + 1, Execution())
    assert {t for t, _ in settings_seen.during(_features(torch_backend))} == {int(own) + 1}
    mxnet.extract_features(mxnet.preprocess(synthetic_image(1)), [1])
    assert framework_tools("mxnet").environment(mxnet)["threads"] == own
    assert framework_tools("torch").environment(torch_backend)["threads"] == str(int(own) + 1)


def test_cudnn_benchmark_is_set_by_the_torch_gpu_backend_made_last(monkeypatch, settings_seen):
    require("torch", "gpu")
    optimized = _torch_built_with(monkeypatch, 2, Execution(), device="gpu")
    chapter = _torch_built_with(monkeypatch, 2, Execution.unoptimized(), device="gpu")  # sets it False process-wide
    for backend in (optimized, chapter):
        assert {b for _, b in settings_seen.during(_one_step(backend))} == {False}
        assert framework_tools("torch").environment(backend)["cudnn.benchmark"] == "False"
