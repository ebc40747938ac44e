"""MXNet against PyTorch on identical inputs and weights: every stage, and training."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import AdamSettings, Schedule, Scales, TransferConfig

from common.execution import Execution
from common.registry import load_backend
from common.targets import compute_targets
from common.transfer import transfer

from .. import reference as ref

from ..conftest import LAST_LAYER, SIZE, require, synthetic_image, weights

PARITY = 1e-5  # relative, per stage


@pytest.fixture(scope="module")
def pair():
    """Both in NCHW, as compare.py runs them: PyTorch's default channels_last picks convolution
    kernels that round differently, which is a layout effect, not a framework one."""
    require("torch")
    require("mxnet")
    return tuple(load_backend(name)(weights(), last_layer=LAST_LAYER, device="cpu", execution=Execution(optimized=False))
                 for name in ("torch", "mxnet"))


@pytest.fixture(scope="module")
def inputs():
    return synthetic_image(1), synthetic_image(2)


def test_every_stage_agrees(pair, inputs):
    torch_b, mx_b = pair
    config = TransferConfig(size=SIZE)
    xt, xm = torch_b.preprocess(inputs[0]), mx_b.preprocess(inputs[0])
    np.testing.assert_array_equal(xt, xm)
    for index, ft, fm in zip(config.layers, torch_b.extract_features(xt, config.layers),
                             mx_b.extract_features(xm, config.layers)):
        assert ref.relative_error(fm, ft) < PARITY, f"features at {index}"
        assert ref.relative_error(mx_b.gram(fm), torch_b.gram(ft)) < PARITY, f"gram at {index}"
    init_t, targets_t = compute_targets(torch_b, *inputs, config)
    init_m, targets_m = compute_targets(mx_b, *inputs, config)
    x = init_t + 0.2 * np.random.default_rng(5).standard_normal(init_t.shape).astype(np.float32)
    torch_b.use_targets(targets_t, config.loss_weights)
    mx_b.use_targets(targets_m, config.loss_weights)
    terms_t, grad_t = torch_b.evaluate(x)
    terms_m, grad_m = mx_b.evaluate(x)
    for name in ("content", "style", "tv", "total"):
        assert getattr(terms_m, name) == pytest.approx(getattr(terms_t, name), rel=PARITY), name
    assert ref.relative_error(grad_m, grad_t) < PARITY


TRAIN_SIZE = (64, 96)


def _run(backend, inputs, align: bool, steps: int = 30):
    config = TransferConfig(size=TRAIN_SIZE, schedule=Schedule(steps=steps),
                            adam=AdamSettings(align_epsilon=align))
    return np.array([r.total for r in transfer(backend, *inputs, config).records])


def test_training_agrees_with_aligned_epsilon_and_drifts_without(pair, record_property):
    """Two things make 30-step losses drift apart even when every stage agrees to 1e-6:
    max pooling routes a gradient to whichever of two nearly equal values float32 rounding made
    larger (the frameworks round convolutions differently in the last bit), and Adam's normalised
    step moves a pixel by about lr whatever the size of its gradient, so such flips grow step by
    step. On smooth, photo-like images the growth stays near what the issue measured on real
    photos (1.4e-3); the epsilon placement is a much larger gap from the first update on."""
    torch_b, mx_b = pair
    inputs = synthetic_image(1, TRAIN_SIZE, noise=0.0), synthetic_image(2, TRAIN_SIZE, noise=0.0)
    reference = _run(torch_b, inputs, align=False)  # PyTorch's Adam is the same either way
    aligned = np.abs(_run(mx_b, inputs, align=True) / reference - 1)
    native = np.abs(_run(mx_b, inputs, align=False) / reference - 1)
    record_property("aligned_relative_gap_step30", float(aligned[-1]))
    record_property("native_relative_gap_step30", float(native[-1]))
    print(f"\nMXNet vs PyTorch total loss, relative gap at steps 2/5/30: "
          f"aligned {aligned[1]:.1e}/{aligned[4]:.1e}/{aligned[-1]:.1e}, "
          f"native {native[1]:.1e}/{native[4]:.1e}/{native[-1]:.1e}")
    assert aligned[0] < PARITY and native[0] < PARITY  # step 1 is before any update
    assert aligned[-1] < 1e-2
    # after one update (step 2's loss) the native gap is the epsilon placement, far above rounding
    assert native[1] > 10 * aligned[1]


def test_the_first_step_of_every_size_agrees(pair):
    """Coarse to fine, aligned Adam, one update per smaller size: each size's first loss is taken at
    the upsampled result of the size before, so it shows the whole chain (inputs, targets, upsampling)."""
    torch_b, mx_b = pair
    inputs = synthetic_image(1, TRAIN_SIZE), synthetic_image(2, (50, 90))
    config = TransferConfig(size=TRAIN_SIZE, schedule=Schedule(steps=2), adam=AdamSettings(align_epsilon=True),
                            scales=Scales(count=2, steps=1))
    runs = [transfer(b, *inputs, config).records for b in (torch_b, mx_b)]
    firsts = [[r for r in records if r.step == 1 or r.size_index != records[r.step - 2].size_index] for records in runs]
    assert [r.size_index for r in firsts[0]] == [1, 2]
    for t, m in zip(*firsts):
        for name in ("content", "style", "tv", "total"):
            assert getattr(m, name) == pytest.approx(getattr(t, name), rel=PARITY), (t.size_index, name)


def test_twenty_lbfgs_evaluations_end_close(pair):
    torch_b, mx_b = pair
    inputs = synthetic_image(1, TRAIN_SIZE, noise=0.0), synthetic_image(2, TRAIN_SIZE, noise=0.0)
    config = TransferConfig(size=TRAIN_SIZE, optimizer="lbfgs", schedule=Schedule(steps=20))
    results = [transfer(b, *inputs, config) for b in (torch_b, mx_b)]
    assert [len(r.records) for r in results] == [20, 20]
    assert results[1].records[-1].total == pytest.approx(results[0].records[-1].total, rel=1e-2)
    assert results[1].picture_loss.total == pytest.approx(results[0].picture_loss.total, rel=1e-2)


def test_an_adam_state_means_the_same_in_both_frameworks(pair, inputs):
    """MXNet's mean/var and PyTorch's exp_avg/exp_avg_sq are the same quantities: MXNet's state after
    two aligned updates, handed with its image to both frameworks, gives the same next update."""
    torch_b, mx_b = pair
    config = TransferConfig(size=SIZE, adam=AdamSettings(align_epsilon=True))
    init, targets = compute_targets(mx_b, *inputs, config)
    mx_b.start(init, targets, config.loss_weights, config.adam, lr=0.1)
    mx_b.step(), mx_b.step()
    state, image = mx_b.adam_moments(), mx_b.image()
    assert state.step == 2
    moves = []
    for backend in (mx_b, torch_b):
        backend.start(image, targets, config.loss_weights, config.adam, lr=0.1, moments=state)
        backend.step()
        moves.append(backend.image() - image)
    assert ref.relative_error(moves[1], moves[0]) < 1e-3
    # and the state mattered: from fresh moments the update goes elsewhere
    torch_b.start(image, targets, config.loss_weights, config.adam, lr=0.1)
    torch_b.step()
    assert ref.relative_error(torch_b.image() - image, moves[0]) > 0.1


def _norm_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
