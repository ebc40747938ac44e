"""The framework differences this project works around, each demonstrated and measured, so a
reader can see that the trap is real and that the backends avoid it. The trap code itself is
lesson/traps.py, which the lesson runs too: what the lesson shows is what is asserted here."""
from __future__ import annotations

import numpy as np
import pytest

from lesson import traps

from .. import reference as ref
from ..conftest import require


def test_mxnet_adam_is_the_uncorrected_form_and_aligned_equals_the_corrected_one():
    """(MXNet's adam_update takes lr and epsilon as float32 operator parameters, hence 1e-4.)"""
    require("mxnet")
    corrected = ref.adam_corrected(np.zeros(500), traps.GRADIENTS, lr=0.3)
    uncorrected = ref.adam_uncorrected(np.zeros(500), traps.GRADIENTS, lr=0.3)
    gluon_plain = traps.gluon_adam()
    assert ref.relative_error(gluon_plain, uncorrected) < 1e-4
    assert ref.relative_error(gluon_plain, corrected) > 0.05  # tiny gradients move much less
    assert ref.relative_error(traps.gluon_adam(align=True), corrected) < 1e-4


def test_torch_adam_is_the_corrected_form():
    require("torch")
    assert ref.relative_error(traps.torch_adam(), ref.adam_corrected(np.zeros(500), traps.GRADIENTS, lr=0.3)) < 1e-6


def test_the_two_frameworks_adams_differ_unless_mxnet_s_epsilon_is_aligned():
    """Framework against framework: the same gradients through torch.optim.Adam and Gluon's Adam,
    as is and with the project's alignment (backends/mxnet/optimizer.py)."""
    require("torch")
    require("mxnet")
    torch_w = traps.torch_adam()
    assert ref.relative_error(traps.gluon_adam(), torch_w) > 0.05
    assert ref.relative_error(traps.gluon_adam(align=True), torch_w) < 1e-4


def test_torchvision_inplace_relu_aliases_stored_conv_outputs():
    """The chapter's PyTorch loop stores a conv output and runs the next layer: with
    ReLU(inplace=True) the stored tensor becomes the ReLU output."""
    require("torch")
    seen = traps.inplace_relu()
    assert seen["conv_min"] < 0  # so that a ReLU changes it
    assert seen["stored_is_relu"] and not seen["stored_is_conv"]  # silently post-ReLU


def test_mxnet_np_transpose_is_a_copy_and_pytorch_s_a_view():
    """Why the MXNet backend's Gram takes the legacy dot with transpose_b: np's x.T copies."""
    require("mxnet")
    require("torch")
    seen = traps.transpose_copies()
    assert seen["PyTorch: writing x.T changed x"] and not seen["MXNet: writing x.T changed x"]
    assert seen["Gram, nd.dot with transpose_b against np.dot(x, x.T), relative difference"] < 1e-6


def test_mxnet_maxpool_gradient_is_wrong_outside_training_mode():
    """MXNet 1.9.1 with oneDNN: MaxPool2D under autograd.record(train_mode=False) sends the
    gradient to the wrong pixels, so the backend records in training mode."""
    require("mxnet")
    errors = traps.maxpool_gradient()
    assert errors[True] < 1e-5
    assert errors[False] > 1.0  # wrong, not merely imprecise


def test_mxnet_trainer_batch_size_rescales_the_gradient_like_a_larger_epsilon():
    """Trainer.step(n) divides gradients by n before Adam; Adam is scale-invariant but for
    epsilon, so step(n) acts like epsilon * n: with tiny gradients the update shrinks."""
    require("mxnet")
    first = traps.trainer_step_scale()
    assert first[(1, 1.0)] == pytest.approx(-0.1, rel=1e-5)
    assert first[(100, 1.0)] == pytest.approx(-0.1, rel=1e-4)  # large gradient: the scale cancels
    assert abs(first[(100, 1e-7)]) < 0.2 * abs(first[(1, 1e-7)])  # tiny gradient: epsilon dominates once rescaled


def test_torch_accumulates_gradients_unless_zeroed_and_gluon_overwrites():
    require("torch")
    require("mxnet")
    seen = traps.gradients_twice()
    assert seen["torch"] == [4.0, 4.0, 4.0]  # summed over both backward passes
    assert seen["mxnet"] == [2.0, 2.0, 2.0]  # overwritten


def test_gluon_defers_the_input_channels_until_the_first_forward():
    require("torch")
    require("mxnet")
    shapes = traps.deferred_shapes()
    assert shapes["gluon before"] == (64, -1, 3, 3)  # -1: not known yet (NumPy semantics; nd wrote 0)
    assert shapes["gluon after"] == shapes["torch"] == (64, 3, 3, 3)


def test_mxnet_returns_before_its_work_is_done_and_torch_on_the_cpu_does_not():
    """Not a timing target: the property is that MXNet's call returns while the products are
    still queued (a small fraction of the time they take), PyTorch's only once they are done."""
    require("torch")
    require("mxnet")
    mx, pt = traps.mxnet_timing(), traps.torch_timing()
    assert mx["returned"] < 0.25 * mx["done"]
    assert pt["returned"] > 0.75 * pt["done"]


def test_numpy_semantics_recording_and_no_grad_are_per_thread():
    """Why the backends switch set_np on in every thread that calls them, and why a thread the
    PyTorch side starts is never in MXNet's dialect."""
    require("torch")
    require("mxnet")
    assert traps.mxnet_thread_state() == {"np here": True, "np in a new thread": False,
                                          "recording here": True, "recording in a new thread": False}
    assert traps.torch_thread_state() == {"grad here": False, "grad in a new thread": True}


def test_gluon_parameter_names_depend_on_the_process_but_saved_names_do_not(tmp_path):
    require("torch")
    require("mxnet")
    seen = traps.parameter_names(tmp_path)
    assert seen["collect_params, first"] != seen["collect_params, second"]  # a process-wide counter
    assert seen["save_parameters"] == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert seen["state_dict"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seen["gluon restored"] and seen["torch restored"]


def test_chapter_resizes_differ_and_torchvision_on_pil_is_pillow_bilinear(tmp_path):
    """The chapter's MXNet tab resizes with OpenCV's bilinear filter without antialiasing and
    width first; its PyTorch tab with torchvision's Resize on a PIL image (antialiased)."""
    require("torch")
    require("mxnet")
    seen = traps.chapter_resizes(tmp_path)
    assert seen["shapes"] == [(30, 40, 3)] * 3
    assert seen["pillow is the project's"]  # the project's resize is what torchvision does on PIL
    # without antialiasing, OpenCV samples a few source pixels: the noise survives; Pillow averages it away
    assert seen["opencv std"] > 2 * seen["pillow std"]
    assert seen["largest difference"] > 0.3


def test_lr_decay_stepped_in_the_wrong_place_is_off_by_one_update():
    """StepLR.step() belongs after optimizer.step(); stepping it before shifts every decay one
    update early. The project computes the rate from the 0-based step index instead."""
    require("torch")
    from common.config import Schedule

    schedule = Schedule(steps=7, lr=0.3, decay_every=3, decay_factor=0.5)
    assert traps.decay_rates(scheduler_first=False) == pytest.approx([schedule.lr_at(step) for step in range(7)])
    assert traps.decay_rates(scheduler_first=True) == pytest.approx([0.3, 0.3, 0.15, 0.15, 0.15, 0.075, 0.075])


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

    from ..conftest import synthetic_image, weights

    size = (64, 96)
    backend = load_backend("torch")(weights(), last_layer=29, device="cpu")
    images = synthetic_image(1, size, noise=0.0), synthetic_image(2, size, noise=0.0)
    config = TransferConfig(size=size, optimizer="lbfgs", loss_weights=LossWeights(tv=0.0), schedule=Schedule(steps=30))
    scipy_run = transfer(backend, *images, config)
    scipy_totals = [r.total for r in scipy_run.records]
    init, targets = compute_targets(backend, *images, config)
    backend.use_targets(targets, config.loss_weights)
    from .. import probes
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


@pytest.mark.parametrize("network", ["vgg16", "vgg19"])
def test_the_torch_backend_builds_torchvisions_own_vgg_features(network):
    """backends/torch/vgg.py builds the layers from torchvision's configuration instead of importing
    torchvision (a second of start-up): module for module the same network, every parameter of the
    same name and shape (the random init differs and is never used: the weights replace it)."""
    require("torch")
    import torch
    import torchvision

    from backends.torch.vgg import vgg_features
    with torch.device("meta"):
        ours, theirs = vgg_features(network), getattr(torchvision.models, network)(weights=None).features
    assert [repr(m) for m in ours] == [repr(m) for m in theirs]  # inplace=True included
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
