"""The framework differences this project works around, each demonstrated and measured, so a
reader can see that the trap is real and that the backends avoid it."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import AdamSettings

from . import reference as ref
from .conftest import require


GRADS = [np.random.default_rng(t).standard_normal(500) * 10.0 ** np.random.default_rng(99 + t).uniform(-9, -3, 500)
         for t in range(20)]  # spread over 1e-9 .. 1e-3, like this problem's pixel gradients


def _gluon_adam(grads, align: bool) -> np.ndarray:
    import mxnet as mx
    from mxnet import autograd, gluon, nd

    from backends.mxnet.optimizer import make_trainer, prepare_update

    adam = AdamSettings(align_epsilon=align)
    p = gluon.Parameter("w", shape=(len(grads[0]),), dtype="float64")
    p.initialize(mx.init.Zero(), ctx=mx.cpu())
    trainer = make_trainer([p], adam, lr=0.3)
    for t, g in enumerate(grads, start=1):
        with autograd.record():
            loss = (p.data() * nd.array(g, dtype="float64")).sum()  # d loss / d w = g
        loss.backward()
        prepare_update(trainer, adam, t)
        trainer.step(1)
    return p.data().asnumpy()


def test_mxnet_adam_is_the_uncorrected_form_and_aligned_equals_the_corrected_one():
    """(MXNet's adam_update takes lr and epsilon as float32 operator parameters, hence 1e-4.)"""
    require("mxnet")
    corrected = ref.adam_corrected(np.zeros(500), GRADS, lr=0.3)
    uncorrected = ref.adam_uncorrected(np.zeros(500), GRADS, lr=0.3)
    gluon_plain = _gluon_adam(GRADS, align=False)
    assert ref.relative_error(gluon_plain, uncorrected) < 1e-4
    assert ref.relative_error(gluon_plain, corrected) > 0.05  # tiny gradients move much less
    assert ref.relative_error(_gluon_adam(GRADS, align=True), corrected) < 1e-4


def _torch_adam(grads) -> np.ndarray:
    import torch

    w = torch.zeros(len(grads[0]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.3)
    for g in grads:
        optimizer.zero_grad()
        (w * torch.from_numpy(g)).sum().backward()
        optimizer.step()
    return w.detach().numpy()


def test_torch_adam_is_the_corrected_form():
    require("torch")
    assert ref.relative_error(_torch_adam(GRADS), ref.adam_corrected(np.zeros(500), GRADS, lr=0.3)) < 1e-6


def test_the_two_frameworks_adams_differ_unless_mxnet_s_epsilon_is_aligned():
    """Framework against framework: the same gradients through torch.optim.Adam and Gluon's Adam,
    as is and with the project's alignment (backends/mxnet/optimizer.py)."""
    require("torch")
    require("mxnet")
    torch_w = _torch_adam(GRADS)
    assert ref.relative_error(_gluon_adam(GRADS, align=False), torch_w) > 0.05
    assert ref.relative_error(_gluon_adam(GRADS, align=True), torch_w) < 1e-4


def test_torchvision_inplace_relu_aliases_stored_conv_outputs():
    """The chapter's PyTorch loop stores a conv output and runs the next layer: with
    ReLU(inplace=True) the stored tensor becomes the ReLU output."""
    require("torch")
    import torch
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features[:3].eval()
    x = torch.randn(1, 3, 16, 16)
    stored = []
    with torch.no_grad():
        y = x
        for layer in features:
            y = layer(y)
            stored.append(y)  # the chapter's way
        conv_out = features[0](x)
    assert conv_out.min() < 0
    assert torch.equal(stored[0], torch.relu(conv_out))  # silently post-ReLU
    assert not torch.equal(stored[0], conv_out)


def test_mxnet_maxpool_gradient_is_wrong_outside_training_mode():
    """MXNet 1.9.1 with oneDNN: MaxPool2D under autograd.record(train_mode=False) sends the
    gradient to the wrong pixels, so the backend records in training mode."""
    require("mxnet")
    from mxnet import autograd, gluon, nd

    pool = gluon.nn.MaxPool2D(strides=2)
    data = np.random.default_rng(0).standard_normal((1, 4, 6, 6)).astype(np.float32)
    # Reference: the gradient of sum(maxpool(x)^2) is 2*max at each window's argmax.
    windows = data.reshape(1, 4, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 4, 3, 3, 4)
    expected = np.zeros_like(data)
    arg = windows.argmax(-1)
    for c in range(4):
        for i in range(3):
            for j in range(3):
                k = arg[0, c, i, j]
                expected[0, c, 2 * i + k // 2, 2 * j + k % 2] = 2 * windows[0, c, i, j, k]
    grads = {}
    for train_mode in (True, False):
        x = nd.array(data)
        x.attach_grad()
        with autograd.record(train_mode=train_mode):
            loss = (pool(x) ** 2).sum()
        loss.backward()
        grads[train_mode] = x.grad.asnumpy()
    np.testing.assert_allclose(grads[True], expected, rtol=1e-6)
    assert np.abs(grads[False] - expected).max() > 1.0  # wrong, not merely imprecise


def test_mxnet_trainer_batch_size_rescales_the_gradient_like_a_larger_epsilon():
    """Trainer.step(n) divides gradients by n before Adam; Adam is scale-invariant but for
    epsilon, so step(n) acts like epsilon * n: with tiny gradients the update shrinks."""
    require("mxnet")
    import mxnet as mx
    from mxnet import autograd, gluon

    def first_update(batch_size: int, grad: float) -> float:
        p = gluon.Parameter("w", shape=(1,))
        p.initialize(mx.init.Zero(), ctx=mx.cpu())
        trainer = gluon.Trainer([p], "adam", {"learning_rate": 0.1})
        with autograd.record():
            loss = (p.data() * grad).sum()
        loss.backward()
        trainer.step(batch_size)
        return float(p.data().asscalar())

    assert first_update(1, 1.0) == pytest.approx(-0.1, rel=1e-5)
    assert first_update(100, 1.0) == pytest.approx(-0.1, rel=1e-4)  # large gradient: the scale cancels
    one, hundred = first_update(1, 1e-7), first_update(100, 1e-7)
    assert abs(hundred) < 0.2 * abs(one)  # tiny gradient: epsilon dominates once rescaled


def test_torch_accumulates_gradients_unless_zeroed_and_gluon_overwrites():
    require("torch")
    require("mxnet")
    import torch
    from mxnet import autograd, nd

    t = torch.ones(3, requires_grad=True)
    for _ in range(2):
        (2 * t).sum().backward()
    assert t.grad.tolist() == [4.0, 4.0, 4.0]  # summed over both backward passes
    m = nd.ones(3)
    m.attach_grad()  # grad_req='write' by default
    for _ in range(2):
        with autograd.record():
            y = (2 * m).sum()
        y.backward()
    assert m.grad.asnumpy().tolist() == [2.0, 2.0, 2.0]  # overwritten


def test_chapter_resizes_differ_and_torchvision_on_pil_is_pillow_bilinear(tmp_path):
    """The chapter's MXNet tab resizes with OpenCV's bilinear filter without antialiasing and
    width first; its PyTorch tab with torchvision's Resize on a PIL image (antialiased)."""
    require("torch")
    require("mxnet")
    from PIL import Image

    from backends.mxnet.chapter import read_image as mxnet_chapter
    from backends.torch.chapter import read_image as torch_chapter
    from common.tools.io.pictures import read_image

    rng = np.random.default_rng(0)
    fine = (rng.random((120, 180, 3)) > 0.5).astype(np.uint8) * 255  # detail finer than the target grid
    Image.fromarray(fine).save(tmp_path / "fine.png")
    size = (30, 40)  # (height, width): a 4x/4.5x reduction
    opencv, pil, ours = (f(tmp_path / "fine.png", size) for f in (mxnet_chapter, torch_chapter, read_image))
    assert opencv.shape == pil.shape == ours.shape == (30, 40, 3)
    np.testing.assert_array_equal(pil, ours)  # the project's resize is what torchvision does on PIL
    # without antialiasing, OpenCV samples a few source pixels: the noise survives; Pillow averages it away
    assert opencv.std() > 2 * pil.std()
    assert np.abs(opencv - pil).max() > 0.3


def test_lr_decay_stepped_in_the_wrong_place_is_off_by_one_update():
    """StepLR.step() belongs after optimizer.step(); stepping it before shifts every decay one
    update early. The project computes the rate from the 0-based step index instead."""
    require("torch")
    import torch

    from common.config import Schedule

    def rates(scheduler_first: bool) -> list[float]:
        w = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.Adam([w], lr=0.3)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        used = []
        for _ in range(7):
            if scheduler_first:
                scheduler.step()
            used.append(optimizer.param_groups[0]["lr"])
            w.sum().backward()
            optimizer.step()
            if not scheduler_first:
                scheduler.step()
        return used

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about exactly this misuse
        early = rates(scheduler_first=True)
    right = rates(scheduler_first=False)
    schedule = Schedule(steps=7, lr=0.3, decay_every=3, decay_factor=0.5)
    assert right == pytest.approx([schedule.lr_at(step) for step in range(7)])
    assert early == pytest.approx([0.3, 0.3, 0.15, 0.15, 0.15, 0.075, 0.075])  # each decay one update early


def test_torch_lbfgs_without_a_line_search_against_scipys_l_bfgs_b(capsys):
    """``torch.optim.LBFGS`` takes fixed steps of lr 1 along its direction (no line search unless
    ``line_search_fn="strong_wolfe"``), keeps 100 curvature pairs and knows no bounds; SciPy's
    L-BFGS-B, which both backends use, searches along each direction and keeps pixels inside [0, 1].
    Same backend, same targets, same 30 evaluations."""
    require("torch")
    from common.config import LossWeights, Schedule, TransferConfig
    from common.registry import load_backend
    from common.targets import compute_targets
    from common.transfer import transfer

    from .conftest import synthetic_image, weights

    size = (64, 96)
    backend = load_backend("torch")(weights(), last_layer=29, device="cpu")
    images = synthetic_image(1, size, noise=0.0), synthetic_image(2, size, noise=0.0)
    config = TransferConfig(size=size, optimizer="lbfgs", weights=LossWeights(tv=0.0), schedule=Schedule(steps=30))
    scipy_run = transfer(backend, *images, config)
    scipy_totals = [r.total for r in scipy_run.records]
    init, targets = compute_targets(backend, *images, config)
    backend.use_targets(targets, config.weights)
    from . import probes
    runs = {"no line search": probes.torch_lbfgs(backend, init, 30),
            "strong Wolfe": probes.torch_lbfgs(backend, init, 30, line_search_fn="strong_wolfe")}
    # its iterates are unbounded: judge each by the picture as saved, clipped to [0, 1]
    pictures = {k: backend.evaluate(backend.preprocess(backend.postprocess(x)))[0].total for k, (_, x) in runs.items()}
    with capsys.disabled():
        print(f"\n30 evaluations from the content image, 64x96, TV weight 0: start {scipy_totals[0]:.4g}; SciPy "
              f"L-BFGS-B best {min(scipy_totals):.4g} (its picture {scipy_run.picture_loss.total:.4g}); " + "; ".join(
                  f"torch.optim.LBFGS {k}: best {min(t):.4g}, picture {pictures[k]:.4g}" for k, (t, _) in runs.items()))
    assert runs["no line search"][0][0] == pytest.approx(scipy_totals[0], rel=1e-6)  # same objective, same start
    assert scipy_run.picture_loss.total == pytest.approx(min(scipy_totals), rel=1e-5)  # bounded: nothing to clip
    # measured: all three end within 2 % of each other here, so one L-BFGS for both backends costs nothing
    for name, (totals, _) in runs.items():
        assert min(totals) < 0.2 * totals[0], name
        assert pictures[name] == pytest.approx(scipy_run.picture_loss.total, rel=0.05), name
