"""Every backend, on every usable device, against the NumPy references."""
from __future__ import annotations

import re

import numpy as np
import pytest

from common.errors import BackendUnavailable
from common.config import AdamSettings, LossWeights, Schedule, TransferConfig
from common.terms import Targets
from common.layers import VGG19
from common.registry import available, framework_tools, load_backend
from common.targets import compute_targets

from .. import reference as ref
from .. import probes
from ..conftest import SIZE, cpu_backend, weights

LAYERS = sorted(set(VGG19.default_content_layers) | set(VGG19.default_style_layers))
TOL = 1e-4  # float32 backends against a float64 reference, relative to each array's scale


def loss(backend, name: str, *arrays: np.ndarray) -> float:
    """The backend's ``losses.<name>`` on NumPy arrays moved to its device: the contract has no
    method per loss (the core needs them only inside ``evaluate``), so the tests reach the module."""
    return float(backend._numpy(getattr(backend.losses, name)(*(backend._native(a) for a in arrays))))


def loss_and_gradient(backend, x: np.ndarray, targets: Targets, weights: LossWeights):
    """``evaluate`` at ``x`` with these targets (which stay in use)."""
    backend.use_targets(targets, weights)
    return backend.evaluate(x)


def test_preprocess_and_postprocess_match_numpy(backend, images):
    content, _ = images
    x = backend.preprocess(content)
    assert x.shape == (1, 3, *SIZE) and x.dtype == np.float32
    assert ref.relative_error(x, ref.preprocess(content)) < 1e-6
    back = backend.postprocess(x)
    assert back.shape == (*SIZE, 3)
    np.testing.assert_allclose(back, content, atol=1e-6)
    # values outside the image range are clipped, not wrapped
    assert backend.postprocess(x * 10).min() >= 0 and backend.postprocess(x * 10).max() <= 1


def test_features_match_numpy_at_every_default_layer(backend, images):
    x = backend.preprocess(images[0])
    got = backend.extract_features(x, LAYERS)
    want = ref.features(x, weights(), LAYERS)
    for index, g, w in zip(LAYERS, got, want):
        assert g.shape == w.shape, index
        assert ref.relative_error(g, w) < TOL, index


def test_conv_point_features_are_not_aliased_by_the_next_relu(backend, images):
    """conv4_4 taken together with deeper layers must equal a fresh forward that stops at conv4_4
    (torchvision's in-place ReLU would otherwise turn the stored value into relu4_4)."""
    x = backend.preprocess(images[0])
    points = VGG19.parse("conv1_1,conv3_1,conv4_4,relu5_1")
    together = backend.extract_features(x, points)
    for index, feature in zip(points, together):
        alone = backend.extract_features(x, [index])[0]
        np.testing.assert_array_equal(feature, alone)
    assert together[2].min() < 0, "a conv output has negative values; post-ReLU values would not"


def test_each_loss_matches_numpy(backend, images):
    x = backend.preprocess(images[0])
    y = backend.preprocess(images[1])
    fx, fy = backend.extract_features(x, [20]), backend.extract_features(y, [20])
    assert loss(backend, "content_loss", fx[0], fy[0]) == pytest.approx(ref.content_loss(fx[0], fy[0]), rel=1e-5)
    g = backend.gram(fy[0])
    assert g.shape == (512, 512)
    assert ref.relative_error(g, ref.gram(fy[0])) < 1e-5
    assert loss(backend, "style_loss", fx[0], g) == pytest.approx(ref.style_loss(fx[0], ref.gram(fy[0])), rel=1e-4)
    assert loss(backend, "tv_loss", x) == pytest.approx(ref.tv_loss(x), rel=1e-5)


def perturbed_start(backend, images, seed: int, scale: float):
    """Targets from the images, and a point near the content image where no loss is zero."""
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, *images, config)
    x = init + scale * np.random.default_rng(seed).standard_normal(init.shape).astype(np.float32)
    return config, targets, x


def test_total_loss_and_gradient_are_consistent(backend, images):
    config, targets, x = perturbed_start(backend, images, seed=3, scale=0.3)
    terms, grad = loss_and_gradient(backend, x, targets, config.loss_weights)
    assert grad.shape == x.shape and np.isfinite(grad).all()
    # the terms against the NumPy reference, weighted as the chapter does
    fx = dict(zip(config.layers, ref.features(x, weights(), list(config.layers))))
    content = sum(ref.content_loss(fx[i], t) for i, t in targets.content.items())
    style = config.loss_weights.style * sum(ref.style_loss(fx[i], g) for i, g in targets.grams.items())
    tv = config.loss_weights.tv * ref.tv_loss(x)
    assert terms.content == pytest.approx(content, rel=1e-4)
    assert terms.style == pytest.approx(style, rel=1e-4)
    assert terms.tv == pytest.approx(tv, rel=1e-5)
    assert terms.total == pytest.approx(terms.content + terms.style + terms.tv, rel=1e-6)
    # the gradient is the derivative of the total: a small step along -grad lowers it as predicted
    h = 1e-3 / np.abs(grad).max()
    lower, _ = loss_and_gradient(backend, x - h * grad, targets, config.loss_weights)
    predicted = h * float((grad.astype(np.float64) ** 2).sum())
    assert terms.total - lower.total == pytest.approx(predicted, rel=0.05)


def test_content_loss_is_zero_at_the_content_image(backend, images):
    config = TransferConfig(size=SIZE, loss_weights=LossWeights(1, 0, 0))
    init, targets = compute_targets(backend, *images, config)
    terms, grad = loss_and_gradient(backend, init, targets, config.loss_weights)
    assert terms.content == 0.0 and np.abs(grad).max() == 0.0


def test_frozen_weights_get_no_gradient(backend, images):
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=2))
    init, targets = compute_targets(backend, *images, config)
    loss_and_gradient(backend, init, targets, config.loss_weights)
    backend.start(init, targets, config.loss_weights, AdamSettings(), lr=0.3)
    backend.step()
    assert not probes.weight_gradients_enabled(backend)


def test_step_returns_losses_before_its_update(backend, images):
    config, targets, x = perturbed_start(backend, images, seed=4, scale=0.2)
    expected, grad = loss_and_gradient(backend, x, targets, config.loss_weights)
    backend.start(x, targets, config.loss_weights, AdamSettings(), lr=0.1)
    got = backend.step()
    assert got.total == pytest.approx(expected.total, rel=1e-5)
    moved = backend.image().astype(np.float64) - x
    # the update is the framework's own Adam, in the convention its capability flag declares
    g = grad.astype(np.float64)
    adam = ref.adam_corrected if backend.adam_epsilon == "corrected" else ref.adam_uncorrected
    np.testing.assert_allclose(moved, adam(np.zeros_like(g), [g], lr=0.1), atol=2e-6)


def test_image_returns_a_copy_that_later_steps_leave_alone(backend, images):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, *images, config)
    backend.start(init, targets, config.loss_weights, AdamSettings(), lr=0.3)
    kept = backend.image()
    snapshot = kept.copy()
    backend.step()
    np.testing.assert_array_equal(kept, snapshot)
    np.testing.assert_array_equal(init, backend.preprocess(images[0]))  # start() did not adopt init
    assert not np.array_equal(backend.image(), kept)


def test_learning_rate_change_scales_the_next_update(backend, images):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, *images, config)
    backend.start(init, targets, config.loss_weights, AdamSettings(), lr=0.2)
    backend.step()
    backend.set_learning_rate(0.0)
    before = backend.image()
    backend.step()
    np.testing.assert_array_equal(backend.image(), before)


def test_targets_are_keyed_by_layer(backend, images):
    config = TransferConfig(size=SIZE, content_layers=(26,), style_layers=(1, 6))
    init, targets = compute_targets(backend, *images, config)
    assert isinstance(targets, Targets)
    assert set(targets.content) == {26} and set(targets.grams) == {1, 6}
    assert targets.grams[1].shape == (64, 64) and targets.grams[6].shape == (128, 128)
    np.testing.assert_array_equal(init, backend.preprocess(images[0]))


def test_auto_takes_a_gpu_exactly_when_the_status_says_one_is_usable(backend_name):
    """The status is what --device auto acts on, and its reason is what --device gpu says."""
    cls = load_backend(backend_name)
    status = framework_tools(backend_name).gpu_status()
    assert isinstance(status.usable, bool) and status.detail and "\n" not in status.detail
    assert (cls(weights(), last_layer=1, device="auto").device != "cpu") == status.usable
    if not status.usable:
        with pytest.raises(BackendUnavailable, match=re.escape(status.detail)):
            cls(weights(), last_layer=1, device="gpu")


# -- what the tooling asks of a framework, through the registry ------------------------------
def test_the_tools_report_the_settings_and_no_peak_on_the_cpu(backend_name):
    backend, tools = cpu_backend(backend_name), framework_tools(backend_name)
    env = tools.environment(backend)
    assert {"framework", "device", "threads", "oneDNN (CPU convolutions)"} <= set(env) and env["device"] == "cpu"
    assert int(env["threads"]) >= 1
    tools.reset_memory_peak(backend)
    assert tools.memory_peak_gib(backend) is None  # on the CPU the resident set is the measure


def test_free_gpu_memory_is_a_number_or_none_and_an_unknown_name_is_refused(backend_name):
    from common import registry

    free = registry.free_gpu_memory_gib(backend_name)
    assert free is None or free >= 0
    if not available(backend_name)[0]:
        assert free is None  # a missing framework cannot say: the memory check then refuses nothing
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        registry.free_gpu_memory_gib("jax")


def test_a_timed_step_is_a_step_with_the_seconds_of_its_three_stages(backend, images):
    from common.registry import timed_step

    config, targets, x = perturbed_start(backend, images, seed=4, scale=0.2)
    backend.start(x, targets, config.loss_weights, AdamSettings(), lr=0.1)
    expected, stepped = backend.step(), backend.image()
    backend.start(x, targets, config.loss_weights, AdamSettings(), lr=0.1)
    terms, seconds = timed_step(backend)
    assert terms == expected
    np.testing.assert_array_equal(backend.image(), stepped)
    assert set(seconds) == {"forward", "backward", "update"} and min(seconds.values()) >= 0
