"""Each way of running a backend computes the same losses: the chapter's configuration,
the optimized one, bf16 (within its rounding) and, for PyTorch, torch.compile."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import Execution, Schedule, TransferConfig
from common.errors import BackendUnavailable
from common.registry import load_backend
from common.transfer import compute_targets, transfer

from .conftest import LAST_LAYER, SIZE, probes, require, synthetic_image, weights


def _make(name: str, execution: Execution):
    require(name)
    return load_backend(name)(weights(), last_layer=LAST_LAYER, device="cpu", execution=execution)


def _loss_and_grad(backend):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, synthetic_image(1), synthetic_image(2), config)
    x = init + 0.2 * np.random.default_rng(6).standard_normal(init.shape).astype(np.float32)
    return backend.loss_and_gradient(x, targets, config.weights)


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_chapter_and_optimized_executions_agree(name):
    fast, chapter = _make(name, Execution()), _make(name, Execution.chapter())
    (terms_f, grad_f), (terms_c, grad_c) = _loss_and_grad(fast), _loss_and_grad(chapter)
    assert terms_f.total == pytest.approx(terms_c.total, rel=1e-5)
    assert np.abs(grad_f - grad_c).max() <= 1e-5 * np.abs(grad_c).max()
    assert probes(chapter).weight_gradients_enabled(chapter) and not probes(fast).weight_gradients_enabled(fast)


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
    with pytest.raises(Exception, match="--precision"):
        Execution(precision="fp8").validate()
